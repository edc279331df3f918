package analysis

import (
	"strings"
	"testing"

	"mailinspector/internal/message"
	"mailinspector/internal/store"
)

// Smart Feedback sends identifiers only: URLs only when feedback.share_urls
// says so, never a body or a person's address.
func TestFeedbackRecordsShareURLsOnlyWhenAsked(t *testing.T) {
	m := &Message{Meta: &store.Message{From: "alice@example.org"}, Extract: &message.Result{
		URLs: []message.URL{{URL: "https://phish.example.net/login?user=bob%40example.com", Where: "part 1 (text)"}}}}
	kinds := func(recs []store.FeedbackRecord) string {
		var ks []string
		for _, r := range recs {
			ks = append(ks, r.Kind+"="+r.Object)
			if strings.Contains(r.Object, "alice@") {
				t.Errorf("a person's address in a record: %+v", r)
			}
		}
		return strings.Join(ks, " ")
	}
	without := kinds(FeedbackRecords(m, "high", false))
	if strings.Contains(without, "url=") {
		t.Fatalf("URLs sent without feedback.share_urls: %s", without)
	}
	with := kinds(FeedbackRecords(&Message{Meta: m.Meta, Extract: m.Extract}, "high", true))
	if !strings.Contains(with, "url=https://phish.example.net/login") {
		t.Fatalf("no URL with feedback.share_urls: %s", with)
	}
}
