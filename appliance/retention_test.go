package appliance

import (
	"context"
	"errors"
	"testing"
	"time"

	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// TestRetentionPurgesOnItsSchedule: the running daemon purges finished
// messages past retention.messages on retention.schedule, while new mail
// goes through and stays.
func TestRetentionPurgesOnItsSchedule(t *testing.T) {
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "policy.unrated": "deliver",
		"retention.messages": "24h", "retention.schedule": "@every 1s"})
	ctx := context.Background()
	old := time.Now().Add(-48 * time.Hour)
	var ids []string
	for i := 0; i < 3; i++ {
		id := store.NewID(old)
		ids = append(ids, id)
		must(t, a.db.Write(ctx, func(tx *store.Tx) error {
			return store.InsertMessage(tx, &store.Message{ID: id, Received: old, From: "a@example.org", To: []string{"b@example.com"},
				Size: 10, State: store.StateDelivered})
		}))
	}
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("kept", "")))
	sink.WaitFor(t, 1, 10*time.Second)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left := 0
		for _, id := range ids {
			if _, err := a.db.GetMessage(ctx, id); !errors.Is(err, store.ErrNotFound) {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d old finished messages left after 10s", left)
		}
	}
	waitState(t, a, onlyMessage(t, a).ID, store.StateDelivered, 5*time.Second)
}
