package analysis

import (
	"sort"
	"strings"
	"testing"

	"mailinspector/internal/message"
)

// What goes to the sandbox under each submission mode: convicted, known
// good and approved objects never; suspicious modes by the risk other
// engines gave; forced types always; links only when asked for, at most
// MaxSandboxLinks, http(s) only.
func TestSandboxCandidates(t *testing.T) {
	parts := []message.Part{
		{Path: "2", Filename: "run.sh", TrueType: "text/x-script", SHA256: "aa", Attachment: true},
		{Path: "3", Filename: "low.sh", TrueType: "text/x-script", SHA256: "bb", Attachment: true},
		{Path: "4", Filename: "medium.sh", TrueType: "text/x-script", SHA256: "cc", Attachment: true},
		{Path: "5", Filename: "bad.sh", TrueType: "text/x-script", SHA256: "dd", Attachment: true},
		{Path: "6", Filename: "good.sh", TrueType: "text/x-script", SHA256: "ee", Attachment: true},
		{Path: "7", Filename: "macro.js", TrueType: "text/plain", SHA256: "ff", Attachment: true},
		{Path: "8", Filename: "photo.jpg", TrueType: "image/jpeg", SHA256: "11", Attachment: true},
		{Path: "9", Filename: "approved.sh", TrueType: "text/x-script", SHA256: "22", Attachment: true},
	}
	urls := []message.URL{{URL: "https://a.example/"}, {URL: "https://b.example/"}, {URL: "https://bad.example/"}, {URL: "mailto:x@y.example"},
		{URL: "https://c.example/"}, {URL: "https://d.example/"}, {URL: "https://e.example/"}, {URL: "https://f.example/"}, {URL: "https://g.example/"}, {URL: "https://a.example/"}}
	m := &Message{Extract: &message.Result{Parts: parts, URLs: urls}, KnownGood: map[string]string{"ee": "csss"},
		Findings: []Finding{{Object: "bb", Risk: RiskLow}, {Object: "cc", Risk: RiskMedium}, {Object: "dd", Risk: RiskHigh},
			{Object: "https://b.example/", Risk: RiskMedium}, {Object: "https://bad.example/", Risk: RiskHigh}}}
	exempt := func(f Finding) (string, bool) {
		return "approved", f.Object == "22" || f.Object == "https://c.example/"
	}
	names := func(v VirtualAnalyzer) string {
		var out []string
		for _, s := range v.candidates(m) {
			out = append(out, s.name)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	base := VirtualAnalyzer{FileTypes: []string{"text/x-script"}, ForcedTypes: []string{".js"}, Exempt: exempt}
	for _, c := range []struct {
		minRisk, links, want string
	}{
		{"", "off", "low.sh macro.js medium.sh run.sh"},
		{RiskLow, "off", "low.sh macro.js medium.sh"},
		{RiskMedium, "off", "macro.js medium.sh"},
		{RiskMedium, "suspicious", "https://b.example/ macro.js medium.sh"},
		{RiskMedium, "unrated", "https://a.example/ https://b.example/ https://d.example/ https://e.example/ https://f.example/ macro.js medium.sh"},
	} {
		v := base
		v.MinRisk, v.Links = c.minRisk, c.links
		if got := names(v); got != c.want {
			t.Errorf("submit %q, links %q:\n got %s\nwant %s", c.minRisk, c.links, got, c.want)
		}
	}
	for _, s := range (VirtualAnalyzer{Links: "unrated"}).candidates(m) {
		if s.SHA256 != LinkKey(s.url) || s.object() != s.url || LinkKey(s.url) == LinkKey(s.url+"x") {
			t.Errorf("link sample %+v", s)
		}
	}
}
