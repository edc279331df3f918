package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkSaveVerdict is one message's verdict as the harness with the hub
// answering makes it: 15 trail entries, 2 findings, 8 feedback records,
// each in its own transaction (lazy commit, as the analysis writes it).
func BenchmarkSaveVerdict(b *testing.B) {
	db := testDB(b)
	ctx := context.Background()
	v := &Verdict{State: StateQueued, Risk: "low", Action: "deliver"}
	for i := range 15 {
		v.Trail = append(v.Trail, TrailEntry{Stage: fmt.Sprintf("stage-%d", i), Service: "svc", Outcome: "ok", Detail: "3 files checked"})
	}
	v.Findings = []Finding{{Stage: "x", Engine: "e", Risk: "low", Name: "n"}, {Stage: "y", Engine: "e", Risk: "low", Name: "m"}}
	for i := range 8 {
		v.Feedback = append(v.Feedback, FeedbackRecord{Kind: "file", Object: fmt.Sprintf("%064d", i), Verdict: "clean", At: time.Now()})
	}
	for b.Loop() {
		id := NewID(time.Now())
		err := db.WriteLazy(ctx, func(tx *Tx) error {
			if err := InsertMessage(tx, &Message{ID: id, Received: time.Now(), From: "a@example.org", To: []string{"b@example.com"}, State: StateReceived}); err != nil {
				return err
			}
			return SaveVerdict(tx, id, v)
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetMessage is the read the analysis and the delivery make of
// each message's row.
func BenchmarkGetMessage(b *testing.B) {
	db := testDB(b)
	ctx := context.Background()
	id := NewID(time.Now())
	if err := db.Write(ctx, func(tx *Tx) error {
		return InsertMessage(tx, &Message{ID: id, Received: time.Now(), From: "a@example.org", To: []string{"b@example.com"}, State: StateReceived})
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.GetMessage(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
