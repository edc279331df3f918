package siem

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/testutil"
)

// startExporter feeds the three inputs of r: UDP with CEF, TCP with LEEF,
// TLS (the test CA) with JSON.
func startExporter(t *testing.T, r *testutil.Rsyslog, dir string) (*Exporter, context.CancelFunc, chan struct{}) {
	var targets []Target
	for _, s := range []string{"udp://" + r.UDP + "?format=cef", "tcp://" + r.TCP + "?format=leef", "tls://" + r.TLS + "?format=rfc5424-json"} {
		tg, err := ParseTarget(s)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	x, err := Open(dir, Config{Targets: targets, Product: testProduct, CAFile: r.CAFile, QueueBytes: 64 << 20,
		Settle: 500 * time.Millisecond, MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return x, cancel, done
}

// eventID reads the event ID back out of a record's MSG, in its format.
func eventID(t *testing.T, rec testutil.Record) (id string, fields map[string]string) {
	switch rec.Input {
	case "udp":
		_, ext := parseCEF(t, rec.Msg)
		return ext["cs6"], ext
	case "tcp":
		_, attrs := parseLEEF(t, rec.Msg)
		return attrs["eventId"], attrs
	default:
		var o map[string]any
		if err := json.Unmarshal([]byte(rec.Msg), &o); err != nil {
			t.Fatalf("JSON record %q: %v", rec.Msg, err)
		}
		fields = map[string]string{}
		for k, v := range o {
			fields[k] = fmt.Sprint(v)
		}
		return fields["eventId"], fields
	}
}

// waitFor waits until every input named (all three when none is) has
// every ID, and returns the records by input and ID.
func waitFor(t *testing.T, r *testutil.Rsyslog, ids []string, inputs ...string) map[string]map[string]testutil.Record {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := map[string]map[string]testutil.Record{"udp": {}, "tcp": {}, "tls": {}}
		for _, rec := range r.Records() {
			id, _ := eventID(t, rec)
			got[rec.Input][id] = rec
		}
		if len(inputs) == 0 {
			inputs = []string{"udp", "tcp", "tls"}
		}
		missing := 0
		for _, in := range inputs {
			for _, id := range ids {
				if _, ok := got[in][id]; !ok {
					missing++
				}
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records never arrived (udp %d, tcp %d, tls %d)", missing, len(inputs)*len(ids), len(got["udp"]), len(got["tcp"]), len(got["tls"]))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRsyslogReceivesEveryFormat(t *testing.T) {
	r := testutil.StartRsyslog(t)
	x, _, _ := startExporter(t, r, t.TempDir())
	var ids []string
	for i, s := range hostileSubjects {
		e := hostileEvent(s, "alice@example.com")
		e.ID = fmt.Sprintf("hostile-%d", i)
		x.Emit(e)
		ids = append(ids, e.ID)
	}
	got := waitFor(t, r, ids)
	for input, recs := range got {
		for i, s := range hostileSubjects {
			rec := recs[fmt.Sprintf("hostile-%d", i)]
			if rec.Host != "mi.example.com" || rec.App != "mailinspector" || rec.MsgID != "detection" || rec.Severity != "4" || rec.Facility != "16" {
				t.Errorf("%s: rsyslog parsed the header as %+v", input, rec)
			}
			_, fields := eventID(t, rec)
			var subject, sender, want string
			switch input {
			case "udp":
				subject, sender, want = fields["cs1"], fields["suser"], expectValue(s, "\r\n")
			case "tcp":
				subject, sender, want = fields["subject"], fields["sender"], expectValue(s, "\r\n\t")
			default:
				subject, sender, want = fields["subject"], fields["sender"], clean(s)
			}
			if subject != want || sender != "alice@example.com" {
				t.Errorf("%s: subject %.40q arrived as %.40q, sender %q", input, s, subject, sender)
			}
		}
	}
	cs, lost := x.Stats()
	for _, c := range cs {
		if !c.Connected || c.Sent < uint64(len(ids)) || c.Dropped != 0 {
			t.Errorf("collector %+v", c)
		}
	}
	if lost != 0 {
		t.Errorf("%d events lost", lost)
	}
}

// A collector that goes away for a while gets, once it is back, every
// event of the outage and of the moments before it was seen to be gone;
// the appliance kept them on disk meanwhile, and a restart of the
// exporter (the daemon's reload) in the middle changes nothing. That holds
// for TCP and TLS; over UDP nothing tells a sender what a collector that
// is shutting down let fall, so UDP's count is only reported.
func TestRsyslogOutageLosesNothing(t *testing.T) {
	r := testutil.StartRsyslog(t)
	dir := t.TempDir()
	x, cancel, done := startExporter(t, r, dir)
	emit := func(x *Exporter, prefix string, n int) (ids []string) {
		for i := range n {
			e := hostileEvent("outage test", "alice@example.com")
			e.ID = fmt.Sprintf("%s-%03d", prefix, i)
			x.Emit(e)
			ids = append(ids, e.ID)
			time.Sleep(5 * time.Millisecond)
		}
		return ids
	}
	ids := emit(x, "before", 20)
	waitFor(t, r, ids)
	r.Stop()
	ids = append(ids, emit(x, "outage", 100)...)
	// The daemon reloads during the outage: the queue is on disk.
	cancel()
	<-done
	x, _, _ = startExporter(t, r, dir)
	ids = append(ids, emit(x, "reloaded", 50)...)
	time.Sleep(time.Second)
	cs, _ := x.Stats()
	for _, c := range cs {
		if c.Connected && !strings.HasPrefix(c.Name, "udp:") {
			t.Errorf("%s connected while rsyslog is stopped", c.Name)
		}
		if c.Pending == 0 {
			t.Errorf("%s: nothing pending during the outage", c.Name)
		}
	}
	r.Start()
	got := waitFor(t, r, ids, "tcp", "tls")
	for _, input := range []string{"tcp", "tls"} {
		if len(got[input]) != len(ids) {
			t.Errorf("%s: %d distinct events, sent %d", input, len(got[input]), len(ids))
		}
	}
	time.Sleep(time.Second)
	got = waitFor(t, r, nil, "udp")
	seen := map[string]int{}
	for _, rec := range r.Records() {
		seen[rec.Input]++
	}
	t.Logf("%d events: tcp %d records, tls %d (sent twice: the settle window); udp %d distinct arrived",
		len(ids), seen["tcp"], seen["tls"], len(got["udp"]))
	// The queues drain once everything has settled.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cs, _ := x.Stats()
		pending := int64(0)
		for _, c := range cs {
			pending += c.Pending
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queues still hold %d bytes: %+v", pending, cs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A bound smaller than the outage's events drops the oldest, counts them,
// and sends the rest.
func TestRsyslogOutagePastTheBound(t *testing.T) {
	r := testutil.StartRsyslog(t)
	r.Stop()
	tg, _ := ParseTarget("tcp://" + r.TCP + "?format=cef")
	x, err := Open(t.TempDir(), Config{Targets: []Target{tg}, Product: testProduct, QueueBytes: 2 << 20,
		Settle: 300 * time.Millisecond, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	big := strings.Repeat("x", 1000)
	const n = 6000 // about 6 MB of records
	for i := range n {
		e := hostileEvent(big, "alice@example.com")
		e.ID = fmt.Sprintf("bound-%04d", i)
		x.Emit(e)
		if i%1000 == 999 {
			time.Sleep(200 * time.Millisecond) // let the writer keep up with the buffer
		}
	}
	time.Sleep(time.Second)
	r.Start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cs, lost := x.Stats()
		if lost != 0 {
			t.Fatalf("%d events lost before the queue", lost)
		}
		got := map[string]bool{}
		for _, rec := range r.Records() {
			_, ext := parseCEF(t, rec.Msg)
			got[ext["cs6"]] = true
		}
		if cs[0].Pending == 0 && got[fmt.Sprintf("bound-%04d", n-1)] {
			if uint64(len(got))+cs[0].Dropped != n || cs[0].Dropped == 0 {
				t.Fatalf("%d arrived and %d dropped of %d", len(got), cs[0].Dropped, n)
			}
			if got["bound-0000"] {
				t.Fatal("the oldest event arrived: the bound dropped newer ones")
			}
			t.Logf("%d arrived, %d dropped (the oldest) under a 2 MiB bound", len(got), cs[0].Dropped)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained: %+v, %d arrived", cs, len(got))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
