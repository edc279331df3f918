package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
)

// browserAgent is what the fetch says it is: pages that hide their payload
// from tools show it to a browser.
const browserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// curlArgs fetch a URL the way a click would: web addresses only, redirects
// followed (at most ten, to web addresses), a browser's name, certificates not checked (a sandbox wants the
// content, as a user clicking through a warning would get it), the body to
// out, and curl's own account of the transfer as JSON on stdout.
func curlArgs(url, proxy, out string, seconds int) []string {
	args := []string{"curl", "-sS", "-L", "--max-redirs", "10", "--proto", "=http,https", "--proto-redir", "=http,https", "--insecure", "-A", browserAgent,
		"--max-time", strconv.Itoa(max(seconds, 1)), "--max-filesize", strconv.Itoa(MaxSample), "-o", out, "-w", "%{json}\n%header{" + proxyHeader + "}\n"}
	if proxy != "" {
		args = append(args, "--proxy", proxy)
	}
	return append(args, "--", url)
}

// proxyHeader marks the sandbox proxy's own error answers (fakenet's
// ProxyHeader: the agent does not import the host's packages).
const proxyHeader = "X-Mailinspector-Proxy"

// curlOut is the part of curl's --write-out %{json} the report keeps.
type curlOut struct {
	URLEffective string `json:"url_effective"`
	Code         int    `json:"response_code"`
	ContentType  string `json:"content_type"`
	Redirects    int    `json:"num_redirects"`
	Size         int64  `json:"size_download"`
	ErrorMsg     string `json:"errormsg"`
}

// fetchResult reads what curl said and what it saved.
func fetchResult(url, proxy string, writeOut []byte, body string) (*Fetch, error) {
	var c curlOut
	i := bytes.IndexByte(writeOut, '{')
	j := bytes.LastIndexByte(writeOut, '}')
	if i < 0 || j < i || json.Unmarshal(writeOut[i:j+1], &c) != nil {
		return nil, fmt.Errorf("curl gave no account of the transfer")
	}
	proxied := string(bytes.TrimSpace(writeOut[j+1:])) // the proxy's mark, if the answer was its own
	f := &Fetch{URL: url, Final: c.URLEffective, Status: c.Code, ContentType: c.ContentType, Redirects: c.Redirects,
		Bytes: c.Size, Via: "fake internet"}
	if proxy != "" {
		f.Via = "proxy"
	}
	if c.Code == 0 {
		msg := c.ErrorMsg
		if msg == "" {
			msg = "no answer"
		}
		return f, fmt.Errorf("the link did not load: %s", msg)
	}
	b, err := os.ReadFile(body)
	if err != nil && !os.IsNotExist(err) {
		return f, err
	}
	// Nothing of the site's to judge: the proxy's own refusal or failure,
	// or a server error.
	if proxied != "" {
		return f, fmt.Errorf("the link did not load: the sandbox proxy %s it (HTTP %d: %s)", proxied, c.Code, firstLine(b))
	}
	if c.Code >= 500 {
		return f, fmt.Errorf("the link did not load: HTTP %d from %s", c.Code, c.URLEffective)
	}
	f.Kind, f.LoginForm = sniff(b)
	if len(b) > 0 {
		f.SHA256 = fileSHA(body)
	}
	return f, nil
}

var (
	htmlStart     = regexp.MustCompile(`(?i)<!doctype\s+html|<html|<head|<body|<form|<script`)
	passwordInput = regexp.MustCompile(`(?i)<input[^>]*\btype\s*=\s*["']?password\b`)
)

// sniff says what a body is by its first bytes, and whether a page asks
// for a password.
func sniff(b []byte) (kind string, login bool) {
	head := b[:min(len(b), 4096)]
	for _, m := range []struct{ magic, kind string }{
		{"\x7fELF", "program"}, {"MZ", "program"}, {"#!", "script"},
		{"PK\x03\x04", "archive"}, {"\x1f\x8b", "archive"}, {"Rar!", "archive"}, {"7z\xbc\xaf\x27\x1c", "archive"},
		{"%PDF", "document"}, {"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "document"}, {"{\\rtf", "document"},
	} {
		if bytes.HasPrefix(head, []byte(m.magic)) {
			return m.kind, false
		}
	}
	if htmlStart.Match(head) {
		return "html", passwordInput.Match(b)
	}
	if len(b) == 0 {
		return "empty", false
	}
	return "other", false
}

// fileSHA is the hex SHA-256 of a file ("" when unreadable).
func fileSHA(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// Summary is a fetch in one line.
func (f *Fetch) Summary() string {
	s := fmt.Sprintf("HTTP %d %s, %d bytes (%s) after %d redirects, via the %s", f.Status, f.ContentType, f.Bytes, f.Kind, f.Redirects, f.Via)
	if f.LoginForm {
		s += "; the page asks for a password"
	}
	return s
}

func firstLine(b []byte) string {
	b = b[:min(len(b), 200)]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
