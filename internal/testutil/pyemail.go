package testutil

import (
	"bufio"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"testing"
)

//go:embed pyemail.py
var pyEmailScript string

// PyEmail is a lenient mail client's view of messages: Python's email
// package (policy.default) in a long-running python3, the stand-in for a
// mail client in the differential tests of internal/message. One process
// serves a whole test binary (fuzz workers each start their own).
type PyEmail struct {
	mu  sync.Mutex
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// PyPart is a file Python's email package offers in a message.
type PyPart struct {
	SHA256   string  `json:"sha256"`
	Size     int     `json:"size"`
	Filename *string `json:"filename"`
	Type     string  `json:"type"`
}

var (
	pyOnce sync.Once
	pyInst *PyEmail
	pyErr  error
)

// StartPyEmail returns the process, started on first use.
func StartPyEmail(t testing.TB) *PyEmail {
	t.Helper()
	bin := RequireTool(t, "python3")
	pyOnce.Do(func() {
		cmd := exec.Command(bin, "-c", pyEmailScript)
		in, err := cmd.StdinPipe()
		if err != nil {
			pyErr = err
			return
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			pyErr = err
			return
		}
		if err := cmd.Start(); err != nil {
			pyErr = err
			return
		}
		pyInst = &PyEmail{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}
	})
	if pyErr != nil {
		t.Fatalf("python3 email helper: %v", pyErr)
	}
	return pyInst
}

func (p *PyEmail) ask(kind string, data []byte, v any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintf(p.in, "%s %d\n", kind, len(data)); err != nil {
		return err
	}
	if _, err := p.in.Write(data); err != nil {
		return err
	}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("python3 email helper: %w", err)
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(line, &e) == nil && e.Error != "" {
		return fmt.Errorf("python: %s", e.Error)
	}
	return json.Unmarshal(line, v)
}

// Parts lists the files Python's email package offers in raw.
func (p *PyEmail) Parts(raw []byte) ([]PyPart, error) {
	var ans struct {
		Parts []PyPart `json:"parts"`
	}
	err := p.ask("parts", raw, &ans)
	return ans.Parts, err
}

// Decode decodes a body in a transfer encoding ("b64" or "qp") as
// get_payload(decode=True) does.
func (p *PyEmail) Decode(kind string, body []byte) ([]byte, error) {
	var ans struct {
		Hex string `json:"hex"`
	}
	if err := p.ask(kind, body, &ans); err != nil {
		return nil, err
	}
	return hex.DecodeString(ans.Hex)
}
