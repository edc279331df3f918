package agent_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/sandbox/agent"
	"mailinspector/internal/testutil"
)

func startAgent(t *testing.T, key []byte, tracer bool) *agent.Client {
	t.Helper()
	s := &agent.Server{Key: key, WorkDir: t.TempDir(), MaxTimeout: 20 * time.Second}
	if tracer {
		s.Strace = testutil.RequireTool(t, "strace")
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &agent.Client{Addr: strings.TrimPrefix(srv.URL, "http://"), Key: key}
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// A script that writes an autostart entry, calls out, spawns a child and
// deletes itself, run by the real agent under the real strace: every one
// of those shows up as an event, and the dropped file can be fetched with
// the run's token only.
func TestAgentTracesWhatASampleDoes(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	sample := []byte("#!/bin/bash\nmkdir -p \"$HOME/.config/autostart\"\n" +
		"printf '[Desktop Entry]\\nExec=/tmp/x\\n' > \"$HOME/.config/autostart/update.desktop\"\n" +
		"exec 3<>/dev/tcp/127.0.0.1/" + itoa(port) + "\n" +
		"rm -f \"$0\"\necho done\n")
	key := []byte("instance key of the test")
	c := startAgent(t, key, true)
	ctx := context.Background()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	token := agent.NewToken()
	var streamed int
	rep, err := c.Run(ctx, &agent.RunRequest{Token: token, Name: "../../invoice.sh", SHA256: sum(sample), Sample: sample, TimeoutMS: 15000},
		func(agent.Event) { streamed++ })
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Ran || rep.How != "exec" || rep.ExitCode != 0 || rep.TimedOut || rep.Tracer != "strace --seccomp-bpf" {
		t.Fatalf("report %+v", rep)
	}
	if streamed < len(rep.Events) {
		t.Errorf("streamed %d events, the report has %d", streamed, len(rep.Events))
	}
	entry := filepath.Join(home, ".config/autostart/update.desktop")
	var wrote, connected, deleted, child bool
	for _, e := range rep.Events {
		switch {
		case e.Type == agent.EvWrite && e.Path == entry:
			wrote = true
		case e.Type == agent.EvConnect && e.Addr == "127.0.0.1:"+itoa(port):
			connected = true
		case e.Type == agent.EvDelete && strings.HasSuffix(e.Path, "/invoice.sh"):
			deleted = true
		case e.Type == agent.EvExec && strings.HasSuffix(e.Path, "/mkdir") && e.PPID != 0:
			child = true
		}
	}
	if !wrote || !connected || !deleted || !child {
		t.Fatalf("write %v connect %v delete %v child exec %v in:\n%v", wrote, connected, deleted, child, rep.Events)
	}
	if !strings.Contains(rep.Output, "done") {
		t.Errorf("output %q", rep.Output)
	}
	var drop *agent.Dropped
	for i := range rep.Dropped {
		if rep.Dropped[i].Path == entry {
			drop = &rep.Dropped[i]
		}
	}
	if drop == nil {
		t.Fatalf("dropped %+v", rep.Dropped)
	}
	b, err := c.File(ctx, token, drop.SHA256)
	if err != nil || !strings.Contains(string(b), "Exec=/tmp/x") || sum(b) != drop.SHA256 {
		t.Fatalf("dropped file: %v %q", err, b)
	}
	if _, err := c.File(ctx, agent.NewToken(), drop.SHA256); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a wrong token got the file: %v", err)
	}
	// One run per boot: a replay finds the run used.
	if _, err := c.Run(ctx, &agent.RunRequest{Token: agent.NewToken(), Name: "x.sh", Sample: sample}, nil); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("second run: %v", err)
	}
}

func TestAgentRefusesUnsignedAndLimitsTime(t *testing.T) {
	key := []byte("k1")
	c := startAgent(t, key, true)
	ctx := context.Background()
	sample := []byte("#!/bin/sh\nsleep 30\n")
	bad := &agent.Client{Addr: c.Addr, Key: []byte("other key")}
	if _, err := bad.Run(ctx, &agent.RunRequest{Token: agent.NewToken(), Name: "a.sh", Sample: sample}, nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong key: %v", err)
	}
	start := time.Now()
	rep, err := c.Run(ctx, &agent.RunRequest{Token: agent.NewToken(), Name: "a.sh", Sample: sample, TimeoutMS: 1500}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.TimedOut || !rep.Ran || time.Since(start) > 20*time.Second {
		t.Fatalf("report %+v after %s", rep, time.Since(start))
	}
}

// A type no program in the guest opens is a failed analysis, not a clean
// one.
func TestAgentNothingRanIsAFailure(t *testing.T) {
	c := startAgent(t, []byte("k"), true)
	rep, err := c.Run(context.Background(), &agent.RunRequest{Token: agent.NewToken(), Name: "photo.jpg", Sample: []byte("\xff\xd8\xff\xe0 not really")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ran || rep.Error == "" {
		t.Fatalf("report %+v", rep)
	}
}

func TestSampleNameIsNeverAPath(t *testing.T) {
	for in, want := range map[string]string{"../../etc/passwd": "passwd", "a\\b\\c.exe": "c.exe", "": "sample", "...": "sample", "we ird?.sh": "we_ird_.sh", ".bashrc": "bashrc"} {
		if got := agent.SampleName(in); got != want {
			t.Errorf("agent.SampleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// Before it runs anything the agent checks that the outside cannot be
// reached: an address that answers refuses the run; ones that do not
// (closed, black-holed) let it go on.
func TestAgentRefusesToRunWhenTheNetworkIsNotIsolated(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	sample := []byte("#!/bin/sh\necho ran\n")
	c := startAgent(t, []byte("k"), true)
	rep, err := c.Run(context.Background(), &agent.RunRequest{Token: agent.NewToken(), Name: "a.sh", Sample: sample,
		Isolation: []string{closedAddr, ln.Addr().String()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ran || !strings.Contains(rep.Error, "isolation broken: "+ln.Addr().String()) {
		t.Fatalf("report %+v", rep)
	}
	c = startAgent(t, []byte("k"), true)
	rep, err = c.Run(context.Background(), &agent.RunRequest{Token: agent.NewToken(), Name: "a.sh", Sample: sample,
		Isolation: []string{closedAddr, "192.0.2.1:443"}}, nil)
	if err != nil || !rep.Ran || !strings.Contains(rep.Output, "ran") {
		t.Fatalf("isolated: %v %+v", err, rep)
	}
}
