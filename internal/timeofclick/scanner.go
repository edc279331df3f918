package timeofclick

import (
	"context"
	"strings"
	"time"

	"mailinspector/internal/store"
)

// scannerAgents are parts of the user agents of link scanners and
// previewers that follow links in mail by themselves.
var scannerAgents = []string{"bot", "crawler", "spider", "preview", "python-requests", "curl/", "wget/", "go-http-client",
	"barracuda", "proofpoint", "mimecast", "safelinks", "urldefense", "symantec", "headlesschrome", "phantomjs"}

// scanner says why a click looks automated ("" for a person's): a known
// scanner's agent, a click within seconds of the delivery, or every link
// of the message clicked at once. It is recorded, never used to block.
func (s *Service) scanner(ctx context.Context, l *store.ClickLink, c *store.Click) string {
	var why []string
	ua := strings.ToLower(c.UserAgent)
	for _, a := range scannerAgents {
		if strings.Contains(ua, a) {
			why = append(why, "agent "+a)
			break
		}
	}
	if c.At.Sub(l.Created) < 10*time.Second {
		why = append(why, "within seconds of delivery")
	}
	if n, err := s.DB.RecentClicks(ctx, l.MessageID, l.Token, c.At.Add(-5*time.Second)); err == nil && n >= 2 {
		why = append(why, "the message's other links clicked at once")
	}
	return strings.Join(why, "; ")
}
