package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestClickLinksAndClicks: a wrapped link is found by its token until
// its lifetime ends and the purge takes it; clicks are found by filter,
// newest first, counted per message for the scanner mark, and purged by
// age.
func TestClickLinksAndClicks(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	now := time.Now()
	links := []ClickLink{
		{Token: "old", MessageID: "m1", URL: "http://a.test/", Raw: "HTTP://a.test", Risk: "unrated", Created: now.Add(-48 * time.Hour), Expires: now.Add(-time.Hour)},
		{Token: "new", MessageID: "m1", Rcpt: "alice@example.com", URL: "http://b.test/", Raw: "http://b.test/", Risk: "none", Created: now, Expires: now.Add(time.Hour)},
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.Write(ctx, func(tx *Tx) error { return InsertClickLinks(tx, links) }))
	l, err := db.ClickLinkByToken(ctx, "new")
	if err != nil || l.Rcpt != "alice@example.com" || l.Raw != "http://b.test/" || l.Expires.UnixNano() != links[1].Expires.UnixNano() {
		t.Fatalf("link %+v %v", l, err)
	}
	for _, c := range []Click{
		{At: now.Add(-100 * 24 * time.Hour), Token: "old", MessageID: "m1", URL: "http://a.test/", Action: "warn"},
		{At: now.Add(-2 * time.Second), Token: "old", MessageID: "m1", URL: "http://a.test/", Action: "warn"},
		{At: now, Token: "new", MessageID: "m1", URL: "http://b.test/", Action: "allow"},
	} {
		c := c
		must(db.Write(ctx, func(tx *Tx) error { return RecordClick(tx, &c) }))
	}
	cs, err := db.Clicks(ctx, ClickQuery{MessageID: "m1", URL: "b.test"})
	if err != nil || len(cs) != 1 || cs[0].Action != "allow" {
		t.Fatalf("clicks on b.test: %+v %v", cs, err)
	}
	if cs, _ := db.Clicks(ctx, ClickQuery{Since: now.Add(-time.Minute)}); len(cs) != 2 || cs[0].Token != "new" {
		t.Fatalf("clicks of the last minute, newest first: %+v", cs)
	}
	if n, err := db.RecentClicks(ctx, "m1", "new", now.Add(-5*time.Second)); err != nil || n != 1 {
		t.Fatalf("the message's other links clicked lately: %d %v", n, err)
	}
	var gone, old int64
	must(db.Write(ctx, func(tx *Tx) (err error) {
		if gone, err = PurgeClickLinks(tx, now, 100); err != nil {
			return err
		}
		old, err = PurgeClicks(tx, now.Add(-90*24*time.Hour), 100)
		return err
	}))
	if gone != 1 || old != 1 {
		t.Fatalf("purged %d links and %d clicks, want 1 and 1", gone, old)
	}
	if _, err := db.ClickLinkByToken(ctx, "old"); !errors.Is(err, ErrNoLink) {
		t.Fatalf("an expired link after the purge: %v", err)
	}
}
