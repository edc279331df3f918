package analysis

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"mailinspector/internal/netguard"
	"mailinspector/internal/services"
	"mailinspector/internal/store"
)

// EmailReputation is the Email Reputation step. At the edge the check ran while the
// client was connected (internal/smtpd) and this stage puts its outcome in
// the trail; behind other MTAs (non-edge) it finds the last untrusted relay
// in Received and asks the DNSBL zones now.
type EmailReputation struct {
	Edge    bool
	Trusted []netip.Prefix // our own relays (non-edge)
	Check   func(ctx context.Context, ip netip.Addr) *store.ERSCheck
	Client  *services.Client
}

func (EmailReputation) Name() string    { return "email-reputation" }
func (EmailReputation) Service() string { return services.ERS }

func (e EmailReputation) Run(ctx context.Context, m *Message) (Result, error) {
	var c *store.ERSCheck
	if e.Edge {
		c = m.Meta.ERS
		if c == nil {
			if err := e.Client.Usable(); err != nil && !errors.Is(err, services.ErrOpen) {
				return Result{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
			}
			return Result{Detail: fmt.Sprintf("client %s not checked (private or trusted address)", m.Meta.ClientIP)}, nil
		}
	} else {
		ip, ok := lastUntrusted(m, e.Trusted)
		if !ok {
			return Result{Detail: "no untrusted public relay in Received"}, nil
		}
		c = e.Check(ctx, ip)
	}
	return ersResult(c)
}

// ersResult turns a check into the stage's result.
func ersResult(c *store.ERSCheck) (Result, error) {
	switch c.Outcome {
	case OutcomeSkipped:
		return Result{}, fmt.Errorf("%w: %s", ErrUnavailable, c.Detail)
	case OutcomeFinding:
		var fs []Finding
		for _, l := range c.Listed {
			fs = append(fs, Finding{Engine: "ers", Threat: "spam", Risk: RiskMedium, Name: "dnsbl-listed", Location: "sending IP " + c.IP,
				Detail: l, Object: c.IP})
		}
		return Result{Findings: fs, Detail: c.Detail}, nil
	}
	return Result{Detail: c.Detail}, nil
}

// CheckERS runs one Email Reputation check through the service's contract;
// the result always says what happened (listed, clean, or skipped and why).
func CheckERS(ctx context.Context, cl *services.Client, bl *services.DNSBL, ip netip.Addr) *store.ERSCheck {
	start := time.Now()
	c := &store.ERSCheck{IP: ip.String()}
	type answer struct {
		listed  []services.Listing
		skipped []string
	}
	a, err := services.Call(ctx, cl, ip.String(), func(ctx context.Context) (answer, bool, error) {
		l, s, err := bl.Check(ctx, ip)
		return answer{l, s}, len(l) > 0, err
	})
	c.Elapsed = time.Since(start)
	switch {
	case err != nil:
		c.Outcome, c.Detail = OutcomeSkipped, err.Error()
	case len(a.listed) > 0:
		c.Outcome = OutcomeFinding
		for _, l := range a.listed {
			c.Listed = append(c.Listed, l.String())
		}
		c.Detail = fmt.Sprintf("%s listed: %s", ip, strings.Join(c.Listed, "; "))
	default:
		c.Outcome, c.Detail = OutcomeOK, fmt.Sprintf("%s not listed", ip)
	}
	if err == nil && len(a.skipped) > 0 {
		c.Detail += "; zones not asked: " + strings.Join(a.skipped, "; ")
	}
	return c
}

// receivedFrom finds the address literal in the TCP-info comment of the
// "from" clause of a Received field (RFC 5321 4.4: "from domain
// (TCP-info)", as Postfix, Sendmail and we write it); the HELO name before
// it is the client's word and is not trusted. receivedBare is the Exim
// form "from [addr] (helo=…)" for fields without such a comment.
var (
	receivedFrom = regexp.MustCompile(`(?is)^\s*from\s+\S+\s+\([^)]*?\[(?:IPv6:)?([0-9a-f.:]+)\][^)]*\)`)
	receivedBare = regexp.MustCompile(`(?is)^\s*from\s+\[(?:IPv6:)?([0-9a-f.:]+)\]\s`)
)

// receivedIPs lists the sending address of each Received field, newest
// first; fields without one are skipped.
func receivedIPs(fields []string) []netip.Addr {
	var out []netip.Addr
	for _, f := range fields {
		if len(f) > 4096 {
			f = f[:4096]
		}
		mm := receivedFrom.FindStringSubmatch(f)
		if mm == nil {
			if mm = receivedBare.FindStringSubmatch(f); mm == nil {
				continue
			}
		}
		if a, err := netip.ParseAddr(mm[1]); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// lastUntrusted is the first relay, from the newest Received down, that is
// neither ours nor private: the host that handed the message to our side.
func lastUntrusted(m *Message, trusted []netip.Prefix) (netip.Addr, bool) {
	if m.Header == nil {
		return netip.Addr{}, false
	}
	for _, ip := range receivedIPs(m.Header["Received"]) {
		if !netguard.Reputable(ip) {
			continue
		}
		mine := false
		for _, p := range trusted {
			mine = mine || p.Contains(ip)
		}
		if !mine {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// ERSHeader is the X-MailInspector-ERS field of a message whose sender
// Email Reputation found listed ("" if none was).
func ERSHeader(rep Report) string {
	var listed []string
	for _, f := range rep.Findings {
		if f.Engine == "ers" {
			listed = append(listed, f.Detail)
		}
	}
	if len(listed) == 0 {
		return ""
	}
	return "X-MailInspector-ERS: listed; " + strings.Join(listed, "; ")
}
