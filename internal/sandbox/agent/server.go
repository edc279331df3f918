package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"
)

// MaxSample bounds a run request's body.
const MaxSample = 64 << 20

// Server is the agent inside the guest.
type Server struct {
	Key []byte
	// WorkDir gets one fresh directory per run, the sample's working
	// directory.
	WorkDir string
	// Strace is strace's path ("" runs samples untraced: the report says
	// so and the verdict cannot be clean).
	Strace string
	// MaxTimeout caps what a request may ask for.
	MaxTimeout time.Duration

	mu      sync.Mutex
	used    bool
	token   string
	dropped map[string]string // sha256 → path
}

// Handler serves the protocol.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ready", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"os": runtime.GOOS, "arch": runtime.GOARCH, "tracer": s.tracer()})
	})
	mux.HandleFunc("POST /v1/run", s.run)
	mux.HandleFunc("GET /v1/files/{sha256}", s.file)
	return mux
}

func (s *Server) tracer() string {
	if s.Strace == "" {
		return "none"
	}
	return "strace --seccomp-bpf"
}

func (s *Server) run(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxSample+1<<20))
	if err != nil {
		http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
		return
	}
	sig, _ := hex.DecodeString(r.Header.Get(SignatureHeader))
	want, _ := hex.DecodeString(Sign(s.Key, body))
	if len(s.Key) == 0 || !hmac.Equal(sig, want) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var req RunRequest
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "run request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(req.Token) < 32 || (len(req.Sample) == 0) == (req.URL == "") {
		http.Error(w, "run request: a token and either a sample or a URL", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.used {
		s.mu.Unlock()
		http.Error(w, "this instance has run a sample already; revert it first", http.StatusConflict)
		return
	}
	s.used, s.token, s.dropped = true, req.Token, map[string]string{}
	s.mu.Unlock()

	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 || (s.MaxTimeout > 0 && timeout > s.MaxTimeout) {
		timeout = s.MaxTimeout
	}
	if timeout <= 0 {
		timeout = time.Minute // neither side said: a zero limit would kill the sample at once
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	send := func(e Event) {
		enc.Encode(e)
		if flusher != nil {
			flusher.Flush()
		}
	}
	rep := s.detonate(r.Context(), &req, timeout, send)
	s.mu.Lock()
	for _, d := range rep.Dropped {
		s.dropped[d.SHA256] = d.Path
	}
	s.mu.Unlock()
	send(Event{MS: rep.MS, Type: EvReport, Report: rep})
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// SampleName is the name the sample gets on disk: the message's file name
// reduced to a safe base name (never a path), keeping its extension since
// that is what decides how a desktop opens it.
func SampleName(name string) string {
	n := unsafeName.ReplaceAllString(filepath.Base(strings.ReplaceAll(name, "\\", "/")), "_")
	n = strings.TrimLeft(n, ".")
	if n == "" || n == "_" {
		n = "sample"
	}
	if len(n) > 100 {
		n = n[len(n)-100:]
	}
	return n
}

// how decides the program that opens the sample, as a user's click would.
func how(file string, head []byte) (string, []string) {
	ext := strings.ToLower(filepath.Ext(file))
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")), bytes.HasPrefix(head, []byte("#!")):
		return "exec", []string{file}
	case ext == ".sh" || ext == ".bash":
		return "sh", []string{"/bin/sh", file}
	case ext == ".py":
		return "python3", []string{"python3", file}
	case ext == ".pl":
		return "perl", []string{"perl", file}
	case bytes.HasPrefix(head, []byte("%PDF")) || ext == ".pdf":
		// The viewer this guest has: poppler renders the first pages as a
		// viewer would (it runs no JavaScript).
		return "pdftoppm", []string{"pdftoppm", "-r", "50", "-l", "3", "-png", file, filepath.Join(filepath.Dir(file), "page")}
	}
	return "", nil
}

func (s *Server) detonate(ctx context.Context, req *RunRequest, timeout time.Duration, send func(Event)) *Report {
	start := time.Now()
	rep := &Report{SHA256: req.SHA256, Name: req.Name, Start: start.UTC(), Tracer: s.tracer(), ExitCode: -1}
	fail := func(err error) *Report {
		rep.Error = err.Error()
		rep.MS = time.Since(start).Milliseconds()
		send(Event{MS: rep.MS, Type: EvError, Detail: rep.Error})
		return rep
	}
	if addr := reachable(ctx, req.Isolation); addr != "" {
		return fail(fmt.Errorf("isolation broken: %s answered from inside the sandbox; nothing was run", addr))
	}
	dir, err := os.MkdirTemp(s.WorkDir, "run-")
	if err != nil {
		return fail(err)
	}
	var argv []string
	download := filepath.Join(dir, "download")
	if req.URL != "" {
		rep.How, argv = "curl", curlArgs(req.URL, req.Proxy, download, int(timeout.Seconds()))
	} else {
		file := filepath.Join(dir, SampleName(req.Name))
		if err := os.WriteFile(file, req.Sample, 0o755); err != nil {
			return fail(err)
		}
		rep.How, argv = how(file, req.Sample[:min(len(req.Sample), 4)])
		if argv == nil {
			return fail(fmt.Errorf("no program in this guest opens %q", SampleName(req.Name)))
		}
	}
	if p, err := exec.LookPath(argv[0]); err == nil {
		argv[0] = p
	} else if !filepath.IsAbs(argv[0]) {
		return fail(fmt.Errorf("%s is not in this guest", argv[0]))
	}
	var traceR, traceW *os.File
	name, args := argv[0], argv[1:]
	if s.Strace != "" {
		if traceR, traceW, err = os.Pipe(); err != nil {
			return fail(err)
		}
		name, args = s.Strace, append(append(straceArgs(), "--"), argv...)
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	// The run's own proxy or none: never one the agent inherited.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "http_proxy", "https_proxy", "all_proxy", "no_proxy":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "PWD="+dir)
	if req.Proxy != "" {
		cmd.Env = append(cmd.Env, "http_proxy="+req.Proxy, "https_proxy="+req.Proxy, "HTTP_PROXY="+req.Proxy, "HTTPS_PROXY="+req.Proxy)
	}
	ownGroup(cmd)
	var out, writeOut tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if req.URL != "" {
		cmd.Stdout = &writeOut // curl's account of the transfer
	}
	if traceW != nil {
		cmd.ExtraFiles = []*os.File{traceW}
	}
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	if traceW != nil {
		traceW.Close()
	}
	send(Event{Type: EvStart, PID: cmd.Process.Pid, Path: argv[len(argv)-1], Detail: rep.How})
	traced := make(chan struct{})
	go func() {
		defer close(traced)
		if traceR == nil {
			return
		}
		defer traceR.Close()
		p := newTraceParser(dir)
		sc := bufio.NewScanner(traceR)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			for _, e := range p.Line(sc.Text()) {
				e.MS = time.Since(start).Milliseconds()
				rep.Events = append(rep.Events, e)
				send(e)
			}
		}
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-waited:
	case <-runCtx.Done():
		rep.TimedOut = true
		killGroup(cmd.Process.Pid)
		werr = <-waited
	}
	// What the sample left running in its process group goes too.
	killGroup(cmd.Process.Pid)
	<-traced
	rep.MS = time.Since(start).Milliseconds()
	rep.ExitCode = cmd.ProcessState.ExitCode()
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		rep.Error = werr.Error()
	}
	// Without a tracer, starting is all we know; with one, the exec of
	// the program itself is the proof that it ran.
	rep.Ran = traceR == nil
	for _, e := range rep.Events {
		if e.Type == EvExec && e.Path == filepath.Clean(argv[0]) {
			rep.Ran = true
		}
	}
	rep.Output = out.String()
	send(Event{MS: rep.MS, Type: EvExit, PID: cmd.Process.Pid, Detail: fmt.Sprintf("exit %d", rep.ExitCode)})
	if req.URL != "" {
		// A link that loaded nothing cannot be judged: not a clean run.
		f, err := fetchResult(req.URL, req.Proxy, []byte(writeOut.String()), download)
		rep.Fetch = f
		if err != nil {
			rep.Ran = false
			if rep.Error == "" {
				rep.Error = err.Error()
			}
		} else {
			e := Event{MS: rep.MS, Type: EvFetch, Addr: f.Final, Detail: f.Summary()}
			rep.Events = append(rep.Events, e)
			send(e)
		}
	}
	rep.Dropped = dropped(rep.Events, dir)
	return rep
}

// reachable tries the outside addresses at once, a second each, and
// returns one that accepted a connection ("" when none did).
func reachable(ctx context.Context, addrs []string) string {
	if len(addrs) == 0 {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	got := make(chan string, len(addrs))
	for _, a := range addrs {
		go func(a string) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", a)
			if err != nil {
				got <- ""
				return
			}
			c.Close()
			got <- a
		}(a)
	}
	for range addrs {
		if a := <-got; a != "" {
			return a
		}
	}
	return ""
}

// dropped hashes the files the sample wrote that are still there.
func dropped(events []Event, dir string) []Dropped {
	seen := map[string]bool{}
	var out []Dropped
	for _, e := range events {
		p := e.Path
		if e.Type == EvRename {
			p = e.To
		}
		if (e.Type != EvWrite && e.Type != EvRename) || seen[p] || len(out) >= 64 {
			continue
		}
		seen[p] = true
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			continue
		}
		h := sha256.New()
		n, _ := io.Copy(h, io.LimitReader(f, MaxSample))
		f.Close()
		out = append(out, Dropped{Path: p, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n})
	}
	return out
}

func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	token, p := s.token, s.dropped[r.PathValue("sha256")]
	s.mu.Unlock()
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "" || !hmac.Equal([]byte(got), []byte(token)) {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	if p == "" {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(p)
	if err != nil {
		http.Error(w, err.Error(), http.StatusGone)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	io.Copy(w, io.LimitReader(f, MaxSample))
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 8<<10 {
		t.buf = t.buf[len(t.buf)-8<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
