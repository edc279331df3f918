package timeofclick

import (
	"strings"
	"testing"
)

// TestCustomPageText: an administrator's page text keeps bold, italic and
// web or mail links, and loses everything that could run, load or
// restyle: scripts, handlers, styles, images, javascript: links.
func TestCustomPageText(t *testing.T) {
	s := &Service{Pages: map[string]string{"high": `<b>Stop.</b> <i>Ask</i> <a href="https://help.example.com/x?a=1&b=2" onclick="x()" style="color:red">the help desk</a>` +
		`<script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">js</a><style>*{display:none}</style><a href="mailto:help@example.com">mail</a>`}}
	got := string(s.custom("high"))
	for _, want := range []string{"<b>Stop.</b>", "<i>Ask</i>", `href="https://help.example.com/x?a=1&amp;b=2"`, `href="mailto:help@example.com"`, "the help desk"} {
		if !strings.Contains(got, want) {
			t.Errorf("lost %q: %s", want, got)
		}
	}
	for _, bad := range []string{"<script", "alert(", "onclick", "onerror", "<img", "style", "javascript:"} {
		if strings.Contains(got, bad) {
			t.Errorf("kept %q: %s", bad, got)
		}
	}
	if s.custom("low") != "" {
		t.Error("a risk without a text has one")
	}
}
