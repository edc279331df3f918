package store_test

import (
	"context"
	"testing"
	"time"

	"mailinspector/internal/store"
	"mailinspector/internal/store/storetest"
)

// BenchmarkSearchMillion is message tracking on a million messages: one op
// is one search, a page of 100 (or fewer) newest first.
func BenchmarkSearchMillion(b *testing.B) {
	db := storetest.Million(b, b.TempDir())
	now := time.Now()
	for _, c := range []struct {
		name string
		f    store.MessageFilter
	}{
		{"newest", store.MessageFilter{}},
		{"from-substring", store.MessageFilter{From: "alice@"}},
		{"from-risk-since-24h", store.MessageFilter{From: "alice@", Risk: "high", Since: now.Add(-24 * time.Hour)}},
		{"risk-high", store.MessageFilter{Risk: "high"}},
		{"threat", store.MessageFilter{Threat: "malware"}},
		{"message-id", store.MessageFilter{MessageID: "<424242@mail>"}},
		{"client-ip-since-7d", store.MessageFilter{ClientIP: "198.51.7.7", Since: now.Add(-7 * 24 * time.Hour)}},
		{"subject-rare", store.MessageFilter{Subject: "subject 99999"}},
		{"page-50", store.MessageFilter{Page: 50}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := db.SearchMessages(context.Background(), c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
