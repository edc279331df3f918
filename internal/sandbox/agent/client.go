package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Client is the appliance's side of one instance's agent.
type Client struct {
	Addr string // host:port on the sandbox network
	Key  []byte
	HTTP *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Ready asks once whether the agent answers.
func (c *Client) Ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+c.Addr+"/v1/ready", nil)
	if err != nil {
		return err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("agent %s: %s", c.Addr, resp.Status)
	}
	return nil
}

// WaitReady asks until the agent answers or ctx ends: after a snapshot
// revert the guest's network comes back within a moment.
func (c *Client) WaitReady(ctx context.Context) error {
	for {
		try, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := c.Ready(try)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("agent %s not ready: %w (last: %v)", c.Addr, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// NewToken makes a run token.
func NewToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ErrNoReport is a run whose stream ended before the report: the instance
// died or the connection broke.
var ErrNoReport = errors.New("the agent's stream ended without a report")

// Run sends a sample and reads the events until the report. onEvent, when
// set, sees each event as it comes.
func (c *Client) Run(ctx context.Context, r *RunRequest, onEvent func(Event)) (*Report, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+c.Addr+"/v1/run", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(c.Key, body))
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("agent %s: %s: %s", c.Addr, resp.Status, bytes.TrimSpace(msg))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 2*MaxSample)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("agent %s: bad event: %w", c.Addr, err)
		}
		if e.Type == EvReport && e.Report != nil {
			return e.Report, nil
		}
		if onEvent != nil {
			onEvent(e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoReport, err)
	}
	return nil, ErrNoReport
}

// File fetches a dropped file by its SHA-256 with the run's token.
func (c *Client) File(ctx context.Context, token, sha string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+c.Addr+"/v1/files/"+sha, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("agent %s: %s", c.Addr, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, MaxSample))
}
