// Package agent is `mailinspector agent`, the program inside a sandbox VM
// that receives a sample, runs it with a time limit under a tracer, streams
// what it does and returns the report; and the appliance's client for it.
//
// The protocol is HTTP on the sandbox network only:
//
//	GET  /v1/ready            the agent is up (used after a snapshot revert)
//	POST /v1/run              a RunRequest, signed: X-MailInspector-Signature
//	                          is hex HMAC-SHA256 of the body under the
//	                          instance key. The answer streams Events as
//	                          JSON lines; the last one has type "report".
//	GET  /v1/files/{sha256}   a file the sample dropped; Authorization:
//	                          Bearer with the run's token.
//
// The instance key reaches the guest outside this protocol (an SMBIOS OEM
// string of its domain, or a flag for an agent run by hand). An agent
// accepts one run per boot: the sandbox reverts the VM to a snapshot taken
// before any run, so a replayed request finds the run already used.
package agent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// SignatureHeader carries the HMAC of a run request's body.
const SignatureHeader = "X-MailInspector-Signature"

// RunRequest is one detonation.
type RunRequest struct {
	// Token authorises this run's follow-up calls (dropped files).
	Token string `json:"token"`
	// Name is the sample's file name as the message gave it (a hint for
	// how to open it; never used as a path as is).
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Sample []byte `json:"sample,omitempty"`
	// URL, instead of a sample: fetched the way a user's click would.
	URL string `json:"url,omitempty"`
	// Proxy is the sandbox's way to the real web (http://host:port on the
	// sandbox network), when it has one: URL fetches go through it, and
	// samples find it in http_proxy and https_proxy.
	Proxy     string `json:"proxy,omitempty"`
	TimeoutMS int64  `json:"timeout_ms"`
	// Isolation are outside addresses (host:port) the agent tries to reach
	// before it runs anything: if one answers, the sandbox network is not
	// isolated and the run is refused.
	Isolation []string `json:"isolation,omitempty"`
}

// Event is one thing the sample did, or the agent's progress.
type Event struct {
	// MS is the time since the run started.
	MS   int64  `json:"ms"`
	Type string `json:"type"` // start, fork, exec, write, delete, rename, connect, exit, error, report; dns, http, smtp
	PID  int    `json:"pid,omitempty"`
	PPID int    `json:"ppid,omitempty"`
	Path string `json:"path,omitempty"`
	// To is a rename's new name.
	To     string   `json:"to,omitempty"`
	Argv   []string `json:"argv,omitempty"`
	Addr   string   `json:"addr,omitempty"`
	Detail string   `json:"detail,omitempty"`
	// Report is set on the last event, of type "report".
	Report *Report `json:"report,omitempty"`
}

// Event types.
const (
	EvStart   = "start"
	EvFork    = "fork" // PID is the new process, PPID its parent
	EvExec    = "exec"
	EvWrite   = "write"
	EvDelete  = "delete"
	EvRename  = "rename"
	EvConnect = "connect"
	EvExit    = "exit"
	EvError   = "error"
	EvReport  = "report"
	// EvFetch is where a URL run's fetch ended: Addr the final URL,
	// Detail what came back (the report's Fetch has it all).
	EvFetch = "fetch"
	// What the fake internet saw from the guest (the host adds them):
	// Addr is the DNS name, HTTP host or mail domain.
	EvDNS  = "dns"
	EvHTTP = "http"
	EvSMTP = "smtp"
	// EvProxy is a request through the sandbox's proxy to the real web.
	EvProxy = "proxy"
)

// Report is what a run found.
type Report struct {
	SHA256 string    `json:"sha256"`
	Name   string    `json:"name"`
	Start  time.Time `json:"start"`
	MS     int64     `json:"ms"`
	// Ran says the sample (or the program opening it) started at all. A
	// run where nothing ran is a failed analysis, never a clean one.
	Ran      bool   `json:"ran"`
	How      string `json:"how"` // what ran it: "exec", "sh", "python3", "curl" …
	ExitCode int    `json:"exit_code"`
	TimedOut bool   `json:"timed_out"`
	// Tracer is what watched it ("strace --seccomp-bpf", or "none").
	Tracer  string    `json:"tracer"`
	Events  []Event   `json:"events"`
	Dropped []Dropped `json:"dropped,omitempty"`
	// Fetch is what a URL run got.
	Fetch *Fetch `json:"fetch,omitempty"`
	// Output is the end of what the sample printed.
	Output string `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Fetch is what a URL led to once its redirects were followed.
type Fetch struct {
	URL         string `json:"url"`
	Final       string `json:"final"`
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Redirects   int    `json:"redirects"`
	Bytes       int64  `json:"bytes"`
	// Kind is what the body is by its first bytes: program, script,
	// archive, document, html or other.
	Kind string `json:"kind"`
	// LoginForm: an HTML page that asks for a password.
	LoginForm bool   `json:"login_form,omitempty"`
	Via       string `json:"via"` // "proxy" or "fake internet"
	// SHA256 of the body (a dropped file of the run).
	SHA256 string `json:"sha256,omitempty"`
}

// Dropped is a file the sample wrote, kept for the report.
type Dropped struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Sign is the signature of a run request's body under key.
func Sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// InstanceKey derives the key of one sandbox instance (a domain name) from
// the appliance's sandbox secret, so the pool never has to store keys.
func InstanceKey(secret []byte, domain string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("mailinspector sandbox agent key\x00" + domain))
	return m.Sum(nil)
}
