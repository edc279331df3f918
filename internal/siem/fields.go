package siem

// fieldKey is how one canonical field is named in each format. CEF keys
// are ArcSight's dictionary where one fits (suser, duser, src, act, fname,
// fileHash, request, reason, outcome, externalId) and labelled custom
// strings otherwise, as DDEI's SIEM guide does; LEEF uses QRadar's
// predefined keys where one fits and plain names otherwise; JSON uses the
// canonical name.
type fieldKey struct {
	cef, cefLabel, leef string
}

// Canonical field names.
const (
	FieldMessage    = "messageId"         // the appliance's ID of the message
	FieldHeaderID   = "internetMessageId" // the Message-ID header
	FieldSender     = "sender"            // envelope sender
	FieldRecipients = "recipients"        // envelope recipients, comma-separated
	FieldSubject    = "subject"
	FieldClientIP   = "clientIp"
	FieldRisk       = "risk"
	FieldThreats    = "threats" // threat names, comma-separated
	FieldState      = "state"
	FieldAction     = "action"
	FieldReason     = "reason"
	FieldFiles      = "fileNames" // attachment names, comma-separated
	FieldHashes     = "fileHashes"
	FieldURL        = "url"
	FieldAccount    = "account" // who acted (audit, deny list)
	FieldOrigin     = "origin"  // from where: an SSH client address, a tty
	FieldCommand    = "command"
	FieldOutcome    = "outcome" // success or failure
	FieldList       = "list"    // the list a deny-list event changed
	FieldEntry      = "entry"
	FieldChange     = "change" // added or removed
	FieldBefore     = "before"
	FieldAfter      = "after"
	// A click on a wrapped link (time-of-click).
	FieldRiskThen   = "riskAtDelivery"
	FieldEvaluation = "evaluation" // done, or skipped: why
	FieldUserAgent  = "userAgent"
	FieldAutomated  = "automated" // why the click looks automated
)

var fieldKeys = map[string]fieldKey{
	FieldMessage:    {"externalId", "", "externalId"},
	FieldHeaderID:   {"cs2", "internetMessageId", "messageId"},
	FieldSender:     {"suser", "", "sender"},
	FieldRecipients: {"duser", "", "recipient"},
	FieldSubject:    {"cs1", "mailMsgSubject", "subject"},
	FieldClientIP:   {"src", "", "src"},
	FieldRisk:       {"cs5", "riskLevel", "risk"},
	FieldThreats:    {"cs3", "threatNames", "threats"},
	FieldState:      {"cs4", "messageState", "state"},
	FieldAction:     {"act", "", "action"},
	FieldReason:     {"reason", "", "reason"},
	FieldFiles:      {"fname", "", "fileNames"},
	FieldHashes:     {"fileHash", "", "fileHash"},
	FieldURL:        {"request", "", "url"},
	FieldAccount:    {"suser", "", "usrName"},
	FieldOrigin:     {"shost", "", "origin"},
	FieldCommand:    {"msg", "", "command"},
	FieldOutcome:    {"outcome", "", "outcome"},
	FieldList:       {"cs4", "listName", "list"},
	FieldEntry:      {"cs3", "listEntry", "entry"},
	FieldChange:     {"act", "", "action"},
	FieldBefore:     {"flexString1", "before", "before"},
	FieldAfter:      {"flexString2", "after", "after"},
	FieldRiskThen:   {"flexString2", "riskAtDelivery", "riskAtDelivery"},
	FieldEvaluation: {"flexString1", "evaluation", "evaluation"},
	FieldUserAgent:  {"requestClientApplication", "", "userAgent"},
	FieldAutomated:  {"cs4", "automated", "automated"},
}

// maxValue caps one field's value in bytes (on a UTF-8 boundary, marked
// with "…"): a 10 kB subject or a thousand recipients must not make a
// record a collector truncates somewhere it chooses.
const maxValue = 1024
