package cli

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// MessageQuery is `show messages` (message tracking): keyword–value filters
// in any order, every one set must match. From, To and Subject match a
// substring; the others exactly. Since and Until bound the time received.
type MessageQuery struct {
	From      string    `json:"from,omitempty"`
	To        string    `json:"to,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Risk      string    `json:"risk,omitempty"`
	Threat    string    `json:"threat,omitempty"`
	State     string    `json:"state,omitempty"`
	Action    string    `json:"action,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	ClientIP  string    `json:"client_ip,omitempty"`
	Policy    string    `json:"policy,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	Until     time.Time `json:"until,omitzero"`
	Limit     int       `json:"limit"`
	Page      int       `json:"page"`
}

const messagesArgs = "[from X] [to X] [subject X] [risk R] [threat T] [state S] [action A] [since 24h|DATE] [until 24h|DATE] " +
	"[message-id X] [client-ip IP] [policy NAME] [limit N] [page N]"

var (
	risks  = []string{"high", "medium", "unrated", "low", "none"}
	states = []string{"received", "analysing", "queued", "delivered", "deferred", "bounced", "quarantined", "deleted", "monitored"}
)

// ParseMessageQuery reads show messages' arguments; a lone number is the
// limit, as before the filters came.
func ParseMessageQuery(args []string, now time.Time) (MessageQuery, error) {
	q := MessageQuery{Limit: 100, Page: 1}
	if len(args) == 1 {
		if n, err := strconv.Atoi(args[0]); err == nil {
			args = []string{"limit", strconv.Itoa(n)}
		}
	}
	if len(args)%2 != 0 {
		return q, fmt.Errorf("%w: show messages %s (each filter is a keyword and a value)", ErrUsage, messagesArgs)
	}
	for i := 0; i < len(args); i += 2 {
		k, v := strings.ToLower(args[i]), args[i+1]
		var err error
		switch k {
		case "from":
			q.From = v
		case "to":
			q.To = v
		case "subject":
			q.Subject = v
		case "risk":
			q.Risk, err = oneOf("risk", strings.ToLower(v), risks)
		case "threat":
			q.Threat = v
		case "state":
			q.State, err = oneOf("state", strings.ToLower(v), states)
		case "action":
			q.Action = v
		case "message-id":
			q.MessageID = v
		case "client-ip":
			var a netip.Addr
			if a, err = netip.ParseAddr(v); err != nil {
				err = fmt.Errorf("%w: client-ip %q is not an IP address", ErrUsage, v)
			} else {
				q.ClientIP = a.Unmap().String() // as the SMTP server records it
			}
		case "policy":
			q.Policy = v
		case "since":
			q.Since, err = when(v, now)
		case "until":
			q.Until, err = when(v, now)
		case "limit":
			q.Limit, err = number("limit", v, 100000)
		case "page":
			q.Page, err = number("page", v, 1000000)
		default:
			err = fmt.Errorf("%w: unknown filter %q: show messages %s", ErrUsage, args[i], messagesArgs)
		}
		if err != nil {
			return q, err
		}
	}
	return q, nil
}

func oneOf(what, v string, allowed []string) (string, error) {
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", fmt.Errorf("%w: %s is one of %s", ErrUsage, what, strings.Join(allowed, ", "))
}

func number(what, v string, most int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, fmt.Errorf("%w: %s must be a number from 1 to %d", ErrUsage, what, most)
	}
	return n, nil
}

// when reads a time: an age (24h, 90m, 7d: that long before now), a date
// (2026-12-01, midnight UTC) or an RFC 3339 time.
func when(v string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q is not an age (24h, 7d) or a date (2026-12-01, 2026-12-01T08:00:00Z)", ErrUsage, v)
}
