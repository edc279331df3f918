package appliance

import (
	"context"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/cli"
	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// TestQueueOperations: with the downstream back and the next retry an
// hour away, queue retry delivers one message now and leaves the other
// waiting; queue delete takes the other out as bounced with a DSN to its
// sender (queue.delete=bounce), or without one (drop); what is not
// waiting is refused with a reason.
func TestQueueOperations(t *testing.T) {
	for _, mode := range []string{"bounce", "drop"} {
		t.Run(mode, func(t *testing.T) {
			sink := testutil.NewSink(t)
			sink.Stop()
			a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "delivery.retry_intervals": "1h",
				"policy.unrated": "deliver", "queue.delete": mode})
			ctx := context.Background()
			addr := a.SMTPAddr().String()
			must(t, send(t, addr, "bob@example.org", []string{"alice@example.com"}, testMessage("retried", "")))
			must(t, send(t, addr, "carol@example.org", []string{"dave@example.com"}, testMessage("deleted", "")))
			var retried, deleted string
			for deadline := time.Now().Add(10 * time.Second); retried == "" || deleted == ""; time.Sleep(50 * time.Millisecond) {
				ms, err := a.SearchMessages(ctx, cli.MessageQuery{State: store.StateDeferred, Limit: 10})
				must(t, err)
				for _, m := range ms {
					if m.Subject == "retried" {
						retried = m.ID
					} else {
						deleted = m.ID
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("not both deferred: %+v", ms)
				}
			}
			sink.Restart(t)
			exec := func(line string) (string, error) {
				v, err := cli.Exec(ctx, a, line)
				if err != nil {
					return "", err
				}
				return cli.Render(v, false)
			}
			out, err := exec("queue retry " + retried)
			if err != nil || !strings.Contains(out, "1 recipients to be tried again now") {
				t.Fatalf("queue retry: %q, %v", out, err)
			}
			got := sink.WaitFor(t, 1, 10*time.Second)
			waitState(t, a, retried, store.StateDelivered, 5*time.Second)
			if d, _ := a.Message(ctx, deleted); d.State != store.StateDeferred {
				t.Fatalf("the other message is %s, want still deferred", d.State)
			}
			out, err = exec("queue delete " + deleted)
			if err != nil || !strings.Contains(out, "1 recipients deleted from the queue") {
				t.Fatalf("queue delete: %q, %v", out, err)
			}
			d := waitState(t, a, deleted, store.StateBounced, 5*time.Second)
			if !strings.Contains(d.Recipients[0].LastError, "deleted from the queue by the administrator") {
				t.Errorf("recipient %+v", d.Recipients[0])
			}
			if mode == "bounce" {
				got = sink.WaitFor(t, 2, 10*time.Second)
				dsn := got[1]
				if len(dsn.To) != 1 || dsn.To[0] != "carol@example.org" || !strings.Contains(string(dsn.Data), "Undelivered Mail Returned to Sender") {
					t.Errorf("DSN to %v:\n%.300s", dsn.To, dsn.Data)
				}
			} else {
				time.Sleep(300 * time.Millisecond) // a DSN would be on its way by now
				if n := len(sink.Messages()); n != 1 {
					t.Errorf("drop sent %d messages, want only the retried one", n)
				}
			}
			for line, says := range map[string]string{
				"queue retry " + retried:  "no recipient of this message is waiting",
				"queue delete " + retried: "no recipient of this message is waiting",
				"queue delete nosuchid":   "no such message",
			} {
				if _, err := exec(line); err == nil || !strings.Contains(err.Error(), says) {
					t.Errorf("%q: %v, want %q", line, err, says)
				}
			}
			if out, err := exec("queue flush"); err != nil || !strings.Contains(out, "0 recipients") {
				t.Errorf("queue flush with nothing waiting: %q, %v", out, err)
			}
		})
	}
}

// TestQueueRerouteAndFilters: with the configured downstream down, show
// queue finds the waiting message by its filters; queue reroute sends it
// to another host now, and the trail and the queue say where.
func TestQueueRerouteAndFilters(t *testing.T) {
	dead := testutil.NewSink(t)
	dead.Stop()
	other := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": dead.Addr, "delivery.retry_intervals": "1h",
		"policy.unrated": "deliver"})
	ctx := context.Background()
	addr := a.SMTPAddr().String()
	must(t, send(t, addr, "bob@example.org", []string{"alice@example.com"}, testMessage("rerouted", "")))
	must(t, send(t, addr, "carol@example.org", []string{"dave@example.com"}, testMessage("stays", "")))
	exec := func(line string) ([]cli.QueueEntry, string, error) {
		v, err := cli.Exec(ctx, a, line)
		if err != nil {
			return nil, "", err
		}
		text, _ := cli.Render(v, false)
		qs, _ := v.([]cli.QueueEntry)
		return qs, text, nil
	}
	var qs []cli.QueueEntry
	for deadline := time.Now().Add(10 * time.Second); len(qs) < 2; time.Sleep(50 * time.Millisecond) {
		qs, _, _ = exec("show queue status deferred")
		if time.Now().After(deadline) {
			t.Fatalf("not both deferred: %+v", qs)
		}
	}
	qs, _, err := exec("show queue from bob@ to ALICE")
	if err != nil || len(qs) != 1 || qs[0].Rcpt != "alice@example.com" {
		t.Fatalf("show queue from bob@ to ALICE: %+v %v", qs, err)
	}
	id := qs[0].ID
	if qs, _, _ := exec("show queue older-than 1h"); len(qs) != 0 {
		t.Errorf("older-than 1h: %+v", qs)
	}
	for _, bad := range []string{"show queue status sent", "show queue from", "show queue colour red", "queue reroute " + id + " host:99999", "queue reroute " + id + " a@b"} {
		if _, _, err := exec(bad); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
	host, port, _ := strings.Cut(other.Addr, ":")
	_, text, err := exec("queue reroute " + id + " " + host + ":" + port)
	if err != nil || !strings.Contains(text, "1 recipients rerouted to "+other.Addr) {
		t.Fatalf("queue reroute: %q %v", text, err)
	}
	got := other.WaitFor(t, 1, 10*time.Second)
	if got[0].To[0] != "alice@example.com" {
		t.Fatalf("the other host got %v", got[0].To)
	}
	d := waitState(t, a, id, store.StateDelivered, 5*time.Second)
	found := false
	for _, e := range d.Trail {
		found = found || strings.Contains(e.Detail, "rerouted to "+other.Addr+" by the administrator")
	}
	if !found {
		t.Errorf("the trail does not say where it went: %+v", d.Trail)
	}
	if _, text, _ := exec("show queue"); !strings.Contains(text, "carol@example.org") || strings.Contains(text, "alice@") {
		t.Errorf("the queue after the reroute:\n%s", text)
	}
	if _, _, err := exec("queue reroute " + id + " " + other.Addr); err == nil || !strings.Contains(err.Error(), "no recipient") {
		t.Errorf("rerouting a delivered message: %v", err)
	}
}
