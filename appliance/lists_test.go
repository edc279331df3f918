package appliance

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

func TestLocalListsOfHashesURLsAndDomains(t *testing.T) {
	sink := testutil.NewSink(t)
	payload := []byte("a file the administrator has seen before and blocked")
	sum := sha256.Sum256(payload)
	good := []byte("a file the administrator approved")
	goodSum := sha256.Sum256(good)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr,
		"lists.blocked_hashes":   hex.EncodeToString(sum[:]),
		"lists.approved_hashes":  hex.EncodeToString(goodSum[:]),
		"lists.blocked_urls":     "HTTP://Evil.Example:80/phish",
		"lists.blocked_domains":  "bad.example",
		"lists.approved_domains": "partner.bad.example",
	})
	html := func(subject, links string) string {
		return "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: " + subject + "\r\nDate: Fri, 27 Nov 2026 08:00:00 +0000\r\n" +
			"Content-Type: text/html\r\n\r\n<html><body>" + links + "</body></html>\r\n"
	}
	cases := []struct {
		name, body, state, finding, where string
	}{
		{"blocked hash in a zip", withAttachment("h", "application/zip", "x.zip", zipped(t, map[string][]byte{"dir/file.bin": payload})),
			store.StateQuarantined, "blocked-hash", "part 2 (x.zip): x.zip/dir/file.bin"},
		{"approved hash", withAttachment("g", "application/octet-stream", "good.bin", good), store.StateDelivered, "", ""},
		{"blocked url below", html("u", `<a href="http://evil.example/phish/login?x=1">x</a>`), store.StateQuarantined, "blocked-url", "part 1 a href"},
		{"url beside the blocked one", html("u2", `<a href="http://evil.example/phishing">x</a>`), store.StateDelivered, "", ""},
		{"blocked subdomain", html("d", `<img src="https://cdn.BAD.example/p.png">`), store.StateQuarantined, "blocked-domain", "part 1 img src"},
		{"approved wins", html("a", `<a href="https://www.partner.bad.example/">x</a>`), store.StateDelivered, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, c.body))
			ms, _ := a.Messages(t.Context(), 1)
			d := waitState(t, a, ms[0].ID, c.state, 10*time.Second)
			var names []string
			for _, f := range d.Findings {
				if f.Engine == "local-lists" {
					names = append(names, f.Name)
					if f.Name == c.finding && f.Location != c.where {
						t.Errorf("location %q, want %q", f.Location, c.where)
					}
				}
			}
			if got := strings.Join(names, ","); got != c.finding {
				t.Fatalf("local-lists findings %q, want %q (%+v)", got, c.finding, d.Findings)
			}
			if c.name == "approved hash" || c.name == "approved wins" {
				for _, e := range d.Trail {
					if e.Stage == "local-lists" && !strings.Contains(e.Detail, "approved") {
						t.Fatalf("approval not in the trail: %+v", e)
					}
				}
			}
		})
	}
}
