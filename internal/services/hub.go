package services

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"mailinspector/internal/hubapi"
)

// Hub speaks the hub's JSON API (docs/hub-api.md) for every hub-backed
// service. It follows no redirects (a hub that sends the appliance
// elsewhere is misconfigured or hijacked) and reads at most 1 MiB of any
// answer.
type Hub struct {
	Base string // https://hub.example.com:8443, no trailing slash
	Key  string
	http *http.Client
	// host is a breaker for the hub as a whole: the services it serves
	// each have their own, but when the hub itself stops answering,
	// every one of them would otherwise wait out its own deadline before
	// learning it (a message's file checks run one after the other).
	host *Client
	// noJointAt is when the hub last answered POST /v1/lookup 404 (Unix
	// nanoseconds; 0: never).
	noJointAt atomic.Int64
}

// SetHostBreaker makes the hub fail fast for backoff once failures
// requests in a row found it out of reach (a refused connection, no
// answer, a 5xx, garbage); one request then probes it.
func (h *Hub) SetHostBreaker(failures int, backoff time.Duration) {
	h.host = New(Config{Name: "hub", Enabled: true, Configured: true, Deadline: 24 * time.Hour, Failures: failures, Backoff: backoff})
}

// NewHub makes a client; deadlines come from each call's context. roots,
// when not nil, are the authorities an https hub's certificate must chain
// to (nil: the system's).
func NewHub(base, key string, roots ...*x509.CertPool) *Hub {
	tr := &http.Transport{
		Proxy:                 nil, // the hub is addressed directly; HTTP_PROXY in the daemon's environment must not reroute it
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		ForceAttemptHTTP2:     true,
	}
	if len(roots) > 0 && roots[0] != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots[0], MinVersion: tls.VersionTLS12}
	}
	return &Hub{Base: strings.TrimRight(base, "/"), Key: key, http: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Configured says whether a hub URL and key are set.
func (h *Hub) Configured() bool { return h != nil && h.Base != "" && h.Key != "" }

// URL is the address of path on the hub with query q.
func (h *Hub) URL(path string, q url.Values) string {
	u := h.Base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// Get asks path with query q and decodes the JSON answer into out.
func (h *Hub) Get(ctx context.Context, path string, q url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", h.URL(path, q), nil)
	if err != nil {
		return err
	}
	return h.do(req, out)
}

// Ping asks the hub's status: the cheapest call that proves it answers.
func (h *Hub) Ping(ctx context.Context) error {
	var st hubapi.Status
	if err := h.Get(ctx, hubapi.PathStatus, nil, &st); err != nil {
		return err
	}
	if st.API == "" {
		return errors.New("hub status without an API version")
	}
	return nil
}

// Post sends body as JSON and decodes the answer into out.
func (h *Hub) Post(ctx context.Context, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", h.URL(path, nil), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return h.do(req, out)
}

func (h *Hub) do(req *http.Request, out any) error {
	if h.host == nil {
		return h.roundTrip(req, out)
	}
	var caller error // the hub answered, but said no: not the host's fault
	_, err := Call(req.Context(), h.host, "", func(ctx context.Context) (struct{}, bool, error) {
		err := h.roundTrip(req, out)
		var se *StatusError
		if errors.As(err, &se) && se.Code < 500 {
			caller = err
			return struct{}{}, true, nil
		}
		return struct{}{}, true, err
	})
	if errors.Is(err, ErrOpen) {
		return fmt.Errorf("hub: %w", err)
	}
	if err != nil {
		return err
	}
	return caller
}

func (h *Hub) roundTrip(req *http.Request, out any) error {
	req.Header.Set("Authorization", "Bearer "+h.Key)
	req.Header.Set("Accept", "application/json")
	resp, err := h.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the settings; the trail wants the reason
		}
		return fmt.Errorf("hub: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("hub: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		msg := http.StatusText(resp.StatusCode)
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		return &StatusError{Code: resp.StatusCode, Msg: msg}
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return fmt.Errorf("hub answered %q, not JSON", resp.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("hub answered garbage: %v", err)
	}
	return nil
}

// Download streams path's answer to w, at most limit bytes (an update
// bundle: not JSON, and larger than any answer Get reads).
func (h *Hub) Download(ctx context.Context, path string, w io.Writer, limit int64) error {
	req, err := http.NewRequestWithContext(ctx, "GET", h.URL(path, nil), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+h.Key)
	resp, err := h.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("hub: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Code: resp.StatusCode, Msg: http.StatusText(resp.StatusCode)}
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("hub: downloading %s: %w", path, err)
	}
	if n > limit {
		return fmt.Errorf("hub: %s is larger than %d bytes", path, limit)
	}
	return nil
}

// StatusError is an answer of the hub other than 200.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return fmt.Sprintf("hub answered HTTP %d: %s", e.Code, e.Msg) }

// LoadRoots reads a PEM file of certificate authorities ("" : nil, the
// system's).
func LoadRoots(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("hub.ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("hub.ca_file: %s holds no PEM certificate", file)
	}
	return pool, nil
}

// jointRetry is how long the appliance believes a hub that did not know
// joint requests (POST /v1/lookup) before trying again (it may have been
// upgraded).
const jointRetry = time.Hour

// JointOK says whether joint requests are worth trying on this hub.
func (h *Hub) JointOK() bool {
	t := h.noJointAt.Load()
	return t == 0 || time.Since(time.Unix(0, t)) > jointRetry
}

// SetNoJoint remembers that the hub answered a joint request 404.
func (h *Hub) SetNoJoint() { h.noJointAt.Store(time.Now().UnixNano()) }
