package agent

import (
	"bufio"
	"os"
	"reflect"
	"testing"
)

// The lines are strace 6.1's, from Debian 12, of a script that writes an
// autostart entry, calls out and deletes itself.
func TestTraceParserEvents(t *testing.T) {
	f, err := os.Open("testdata/trace.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := newTraceParser("/tmp/run")
	var got []Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		got = append(got, p.Line(sc.Text())...)
	}
	want := []Event{
		{Type: EvExec, PID: 19932, Path: "/tmp/run/s.sh", Argv: []string{"./s.sh"}},
		{Type: EvFork, PID: 19933, PPID: 19932},
		{Type: EvExec, PID: 19933, PPID: 19932, Path: "/usr/bin/mkdir", Argv: []string{"mkdir", "-p", "/root/.config/autostart"}},
		{Type: EvWrite, PID: 19932, Path: "/root/.config/autostart/evil.desktop"},
		{Type: EvFork, PID: 19934, PPID: 19932},
		{Type: EvConnect, PID: 19935, Addr: "10.9.9.9:80", Detail: "EINPROGRESS (Operation now in progress)"},
		{Type: EvConnect, PID: 19935, Addr: "[2001:db8::1]:443"},
		{Type: EvRename, PID: 19976, Path: "/root/.config/autostart/evil.desktop", To: "/root/.config/autostart/e2.desktop"},
		{Type: EvDelete, PID: 19977, Path: "/tmp/run/s.sh"},
		{Type: EvWrite, PID: 19978, Path: "/tmp/run/rel/x\u00e9A"},
		{Type: EvConnect, PID: 20001, Addr: "192.0.2.1:443"},
		{Type: EvExec, PID: 20002, Path: "/usr/bin/true", Argv: []string{"true"}},
		{Type: EvConnect, PID: 20003, Addr: "198.51.100.7:25", Detail: "ENETUNREACH (Network is unreachable)"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events\n got %+v\nwant %+v", got, want)
	}
}

func TestQuotedUnescapes(t *testing.T) {
	got := quoted(`AT_FDCWD, "a\"b\\c\n\t\x41\101", ["x", ""]`)
	want := []string{"a\"b\\c\n\tAA", "x", ""}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func FuzzTraceParser(f *testing.F) {
	b, _ := os.ReadFile("testdata/trace.txt")
	f.Add(string(b))
	f.Add(`1 execve("\`)
	f.Add(`1 connect(3, {sa_family=AF_INET, sin_port=htons(99999), sin_addr=inet_addr("1.2.3.4")}, 16) = 0`)
	f.Fuzz(func(t *testing.T, s string) {
		p := newTraceParser("/w")
		for _, e := range p.Line(s) {
			if e.Type == "" {
				t.Fatalf("event without a type from %q", s)
			}
		}
	})
}
