package analysis

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
)

// HeaderSanity checks the header block the way RFC 5322 3.6 requires it:
// exactly one From and one Date, at most one of the single-occurrence
// fields, and a header that parses at all.
type HeaderSanity struct{}

func (HeaderSanity) Name() string    { return "header-sanity" }
func (HeaderSanity) Service() string { return "" }

// singleFields may occur at most once (RFC 5322 3.6, table).
var singleFields = []string{"From", "Date", "Sender", "Reply-To", "To", "Cc", "Bcc", "Message-Id", "In-Reply-To", "References", "Subject"}

func (HeaderSanity) Run(ctx context.Context, m *Message) (Result, error) {
	if m.Header == nil {
		return Result{Findings: []Finding{malformed("the header block does not parse")}}, nil
	}
	var problems []string
	for _, f := range []string{"From", "Date"} {
		if len(m.Header[f]) == 0 {
			problems = append(problems, "no "+f+" field")
		}
	}
	for _, f := range singleFields {
		if n := len(m.Header[f]); n > 1 {
			problems = append(problems, fmt.Sprintf("%d %s fields", n, f))
		}
	}
	if from := m.Header.Get("From"); from != "" {
		if _, err := mail.ParseAddressList(from); err != nil {
			problems = append(problems, "From does not parse: "+err.Error())
		}
	}
	if len(problems) == 0 {
		return Result{}, nil
	}
	return Result{Findings: []Finding{malformed(strings.Join(problems, "; "))}}, nil
}

func malformed(detail string) Finding {
	return Finding{Engine: "header-sanity", Risk: RiskLow, Name: "malformed", Location: "header", Detail: detail}
}

// SenderLists matches the envelope sender and the header From against the
// administrator's blocked and approved senders. Blocked wins.
type SenderLists struct {
	Blocked  []string
	Approved []string
}

func (SenderLists) Name() string    { return "sender-lists" }
func (SenderLists) Service() string { return "" }

func (s SenderLists) Run(ctx context.Context, m *Message) (Result, error) {
	senders := []struct{ where, addr string }{{"envelope", m.Meta.From}}
	if m.Header != nil {
		if list, err := mail.ParseAddressList(m.Header.Get("From")); err == nil {
			for _, a := range list {
				senders = append(senders, struct{ where, addr string }{"header From", a.Address})
			}
		}
	}
	var approved []string
	for _, snd := range senders {
		if p := matchSender(snd.addr, s.Blocked); p != "" {
			return Result{Findings: []Finding{{Engine: "sender-lists", Threat: "content violation", Risk: RiskHigh, Name: "blocked-sender",
				Location: snd.where, Detail: fmt.Sprintf("%s matches blocked sender %s", snd.addr, p)}}}, nil
		}
		if p := matchSender(snd.addr, s.Approved); p != "" {
			approved = append(approved, fmt.Sprintf("%s (%s) matches approved sender %s", snd.addr, snd.where, p))
		}
	}
	if len(approved) > 0 {
		return Result{Detail: strings.Join(approved, "; ")}, nil
	}
	return Result{}, nil
}

// matchSender matches an address against address, domain and .subdomain
// patterns; it returns the pattern that matched.
func matchSender(addr string, patterns []string) string {
	addr = strings.ToLower(addr)
	_, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return ""
	}
	for _, p := range patterns {
		switch {
		case strings.Contains(p, "@") && p == addr:
			return p
		case strings.HasPrefix(p, "@") && domain == p[1:]:
			return p
		case strings.HasPrefix(p, ".") && strings.HasSuffix(domain, p):
			return p
		case !strings.ContainsAny(p, "@") && !strings.HasPrefix(p, ".") && domain == p:
			return p
		}
	}
	return ""
}
