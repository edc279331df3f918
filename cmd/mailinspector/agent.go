package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	"mailinspector/internal/sandbox/agent"
)

// agentCmd is `mailinspector agent`, run inside a sandbox VM (built static
// with CGO_ENABLED=0: make agent).
func agentCmd(args []string) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	listen := fs.String("listen", "", "address:port on the sandbox network (an unspecified address is refused)")
	keyFile := fs.String("key-file", "", "file with the instance key in hex (default: the domain's SMBIOS OEM string mailinspector-agent-key=…)")
	work := fs.String("work-dir", os.TempDir(), "where samples are written and run")
	maxRun := fs.Duration("max-run", 5*time.Minute, "the longest a run may ask for")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ap, err := netip.ParseAddrPort(*listen)
	if err != nil || ap.Addr().IsUnspecified() {
		fmt.Fprintln(os.Stderr, "agent: --listen wants the sandbox network's address and a port, not every address")
		return 2
	}
	key, err := agentKey(*keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		return 2
	}
	s := &agent.Server{Key: key, WorkDir: *work, MaxTimeout: *maxRun}
	if p, err := exec.LookPath("strace"); err == nil {
		s.Strace = p
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "agent: listening on %s, tracer %q\n", ln.Addr(), s.Strace)
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		return 1
	}
	return 0
}

// agentKey reads the instance key from a file, or from the SMBIOS OEM
// strings (type 11) the sandbox puts in the domain's XML.
func agentKey(file string) ([]byte, error) {
	var text string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		text = string(b)
	} else {
		b, err := os.ReadFile("/sys/firmware/dmi/entries/11-0/raw")
		if err != nil {
			return nil, fmt.Errorf("no --key-file and no SMBIOS OEM strings: %w", err)
		}
		const p = "mailinspector-agent-key="
		i := strings.Index(string(b), p)
		if i < 0 {
			return nil, fmt.Errorf("no %s in the SMBIOS OEM strings", p)
		}
		text = string(b[i+len(p):])
		if j := strings.IndexByte(text, 0); j >= 0 {
			text = text[:j]
		}
	}
	key, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("instance key: want at least 16 bytes in hex")
	}
	return key, nil
}
