package appliance

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailinspector/internal/testutil"
)

// TestMakeRunInspects is a newcomer's first minutes: `make run RUN_HUB=1`
// on a fresh data directory, EICAR sent with swaks is quarantined (the
// private clamd with the project's signatures), the URLhaus test link is
// flagged (the local hub with the project's feeds), and Ctrl-C (SIGINT to
// the process group) stops everything it started.
func TestMakeRunInspects(t *testing.T) {
	swaks := testutil.RequireTool(t, "swaks")
	testutil.RequireTool(t, "clamd")
	testutil.RequireTool(t, "make")
	dir := filepath.Join(t.TempDir(), "run-data")
	smtpAddr, hubAddr, webAddr := freePort(t), freePort(t), freePort(t)
	cmd := exec.Command("make", "-C", "..", "run", "RUN_DIR="+dir, "RUN_SMTP="+smtpAddr, "RUN_HUB=1", "RUN_HUB_LISTEN="+hubAddr, "RUN_WEB="+webAddr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// make writes while the test reads the banner: a locked buffer.
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	pgid := cmd.Process.Pid
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			syscall.Kill(-pgid, syscall.SIGKILL)
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("make run said:\n%s", tail(out.String(), 40))
		}
	})
	deadline := time.Now().Add(3 * time.Minute) // the build, clamd's start
	for {
		if c, err := net.Dial("tcp", smtpAddr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("make run never listened on its SMTP address")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The web console answers over HTTPS (self-signed) with its login page.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := insecure.Get("https://" + webAddr + "/login")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("the console of make run: %s", resp.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the console of make run: %v", err)
			break
		}
	}
	for _, want := range []string{"clamd with the project's test signatures", "with the project's test feeds", "data directory " + dir, "console: https://" + webAddr} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the banner lacks %q", want)
		}
	}
	eicarCmd := exec.Command(swaks, "--server", smtpAddr, "--from", "you@example.org", "--to", "alice@example.com", "--h-Subject", "eicar",
		"--attach", "-", "--attach-name", "eicar.com")
	eicarCmd.Stdin = strings.NewReader(eicar)
	if b, err := eicarCmd.CombinedOutput(); err != nil {
		t.Fatalf("swaks: %v\n%s", err, b)
	}
	if b, err := exec.Command(swaks, "--server", smtpAddr, "--from", "you@example.org", "--to", "alice@example.com", "--h-Subject", "link",
		"--body", "Your parcel: http://cdn.badfiles.test/payload.exe").CombinedOutput(); err != nil {
		t.Fatalf("swaks: %v\n%s", err, b)
	}
	shell := func(command string) []map[string]any {
		b, err := exec.Command(filepath.Join("..", "bin", "mailinspector"), "shell", "--data-dir", dir, "-o", "json", "-c", command).Output()
		must(t, err)
		var v []map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			var one map[string]any
			must(t, json.Unmarshal(b, &one))
			v = []map[string]any{one}
		}
		return v
	}
	verdicts := map[string]map[string]any{}
	for deadline := time.Now().Add(30 * time.Second); len(verdicts) < 2; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("verdicts: %v", verdicts)
		}
		for _, m := range shell("show messages") {
			if m["state"] != "received" && m["state"] != "analysing" {
				verdicts[m["subject"].(string)] = shell("show message " + m["id"].(string))[0]
			}
		}
	}
	if v := verdicts["eicar"]; v["state"] != "quarantined" || v["risk"] != "high" || !strings.Contains(jsonOf(v["findings"]), "MailInspector.Test.EICAR") {
		t.Errorf("EICAR: %v", v)
	}
	if v := verdicts["link"]; v["risk"] != "high" || !strings.Contains(jsonOf(v["findings"]), "web-reputation") {
		t.Errorf("the URLhaus link: %v", v)
	}

	must(t, syscall.Kill(-pgid, syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("make run did not stop on Ctrl-C")
	}
	stopped = true
	// Nothing it started is left: no process of its group.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left := groupMembers(pgid)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left running after Ctrl-C: %v", left)
		}
	}
}

// lockedBuffer is a bytes.Buffer one goroutine writes while another reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// groupMembers lists the command lines of the processes in group pgid.
func groupMembers(pgid int) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …: comm may hold spaces.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			cl, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			out = append(out, strconv.Itoa(pid)+": "+strings.ReplaceAll(string(cl), "\x00", " "))
		}
	}
	return out
}
