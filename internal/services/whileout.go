package services

// WhileOut says, for each service and local part, what the appliance does
// without it: the degradation contract of docs/degradation.md in one line,
// for the status panel. Empty for an unknown name.
func WhileOut(name string) string { return whileOut[name] }

var whileOut = map[string]string{
	"ers":            "sender reputation is not checked; mail is accepted and analysed",
	"time-of-click":  "rewritten links keep resolving through the appliance's click service",
	"csss":           "no known-good shortcut: files are analysed fully",
	"file-census":    "attachment prevalence is not evaluated",
	"domain-census":  "domain prevalence and age are not evaluated",
	"ml":             "attachments are not scored by machine learning",
	"threat-connect": "detections link to the console's own page of the indicator, which says the hub cannot be reached",
	"web-inspection": "URL threat details are not evaluated",
	"web-reputation": "URLs are not rated (unrated unless a local list rates them)",
	"smart-feedback": "feedback waits on disk and is sent later",
	"updates":        "the current patterns and engines stay in use",
	"licence":        "the cached licence is used",
	"clamd":          "attachments are not scanned: unrated, held by the default policy",
	"downstream":     "mail waits in the queue and is retried",
	"resolver":       "DNSBL checks are skipped; MX routing waits",
	"libvirt":        "the virtual analyzer is skipped; sandbox.on_error applies",
}
