package store

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// TestStats: detections count in the bucket they were received in, by
// risk (unrated apart, none not at all); the top lists count detected
// messages only, the source being the verdict's first relay.
func TestStats(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	since := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	add := func(at time.Duration, risk, threat string, to []string, relays ...string) {
		t.Helper()
		id := NewID(time.Now())
		var objs []Object
		for _, r := range relays {
			objs = append(objs, Object{Kind: ObjectIP, Value: r})
		}
		v := &Verdict{State: StateQuarantined, Risk: risk, Objects: append([]Object{{Kind: ObjectURL, Value: "http://x.test/"}}, objs...)}
		if threat != "" {
			v.Findings = []Finding{{Stage: "s", Engine: "e", Risk: risk, Threat: threat}}
		}
		if err := db.Write(ctx, func(tx *Tx) error {
			if err := InsertMessage(tx, &Message{ID: id, Received: since.Add(at), From: "a@example.org", To: to, State: StateReceived}); err != nil {
				return err
			}
			return SaveVerdict(tx, id, v)
		}); err != nil {
			t.Fatal(err)
		}
	}
	add(10*time.Minute, "high", "malware", []string{"Alice@example.com"}, "198.51.100.1", "203.0.113.9")
	add(50*time.Minute, "high", "malware", []string{"alice@example.com", "bob@example.com"}, "198.51.100.1")
	add(2*time.Hour+time.Minute, "medium", "phishing", []string{"bob@example.com"}, "198.51.100.2")
	add(3*time.Hour, "unrated", "", []string{"carol@example.com"}, "198.51.100.3")
	add(3*time.Hour, "none", "", []string{"dave@example.com"}, "198.51.100.4")
	add(5*time.Hour, "high", "malware", []string{"erin@example.com"}) // after the period
	st, err := db.Stats(ctx, since, since.Add(4*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]int{{"high": 2}, {}, {"medium": 1}, {"unrated": 1}}
	if !reflect.DeepEqual(st.Buckets, want) {
		t.Errorf("buckets %v, want %v", st.Buckets, want)
	}
	if w := []Count{{"malware", 2}, {"phishing", 1}}; !reflect.DeepEqual(st.Threats, w) {
		t.Errorf("threats %v, want %v", st.Threats, w)
	}
	if w := []Count{{"alice@example.com", 2}, {"bob@example.com", 2}}; !reflect.DeepEqual(st.Recipients, w) {
		t.Errorf("recipients %v, want %v", st.Recipients, w)
	}
	if w := []Count{{"198.51.100.1", 2}, {"198.51.100.2", 1}}; !reflect.DeepEqual(st.Sources, w) {
		t.Errorf("sources %v, want %v (the first relay of detected messages)", st.Sources, w)
	}
}
