package analysis

import (
	"time"

	"mailinspector/internal/store"
)

// FeedbackRecords are the Smart Feedback records of one analysed message:
// each file's SHA-256 and each domain and public IP it carried, with the
// message's risk; with urls, also its links' URLs (feedback.share_urls: a
// URL may carry a recipient's address or a personal token). Only these
// identifiers leave the appliance, never a body or a person's address.
func FeedbackRecords(m *Message, risk string, urls bool) []store.FeedbackRecord {
	now := time.Now()
	var out []store.FeedbackRecord
	saved := m.KnownGood
	m.KnownGood = nil // known-good files are counted too
	files, _ := messageFiles(m)
	m.KnownGood = saved
	for _, f := range files {
		out = append(out, store.FeedbackRecord{Kind: "file", Object: f.SHA256, Verdict: risk, At: now})
	}
	names, _ := messageNames(m)
	for _, n := range names {
		kind := "domain"
		if isAddr(n.name) {
			kind = "ip"
		}
		out = append(out, store.FeedbackRecord{Kind: kind, Object: n.name, Verdict: risk, At: now})
	}
	if urls {
		us, _ := messageURLs(m)
		for _, u := range us {
			if len(u.URL) <= 2048 {
				out = append(out, store.FeedbackRecord{Kind: "url", Object: u.URL, Verdict: risk, At: now})
			}
		}
	}
	return out
}
