package cli

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// queueFilter is show queue's filters; every one set must match.
type queueFilter struct {
	from, to, status, id string
	olderThan            time.Duration
	limit                int
}

const queueArgs = "[from X] [to X] [status pending|deferred] [id ID] [older-than 1h] [limit N]"

func parseQueueFilter(args []string) (queueFilter, error) {
	f := queueFilter{limit: 1000}
	if len(args)%2 != 0 {
		return f, fmt.Errorf("%w: show queue %s (each filter is a keyword and a value)", ErrUsage, queueArgs)
	}
	for i := 0; i < len(args); i += 2 {
		k, v := strings.ToLower(args[i]), args[i+1]
		switch k {
		case "from":
			f.from = strings.ToLower(v)
		case "to":
			f.to = strings.ToLower(v)
		case "status":
			if v != "pending" && v != "deferred" {
				return f, fmt.Errorf("%w: status is pending or deferred", ErrUsage)
			}
			f.status = v
		case "id":
			f.id = v
		case "older-than":
			d, err := parseAge(v)
			if err != nil {
				return f, fmt.Errorf("%w: older-than %q: %v", ErrUsage, v, err)
			}
			f.olderThan = d
		case "limit":
			n, err := number("limit", v, 10000)
			if err != nil {
				return f, err
			}
			f.limit = n
		default:
			return f, fmt.Errorf("%w: unknown filter %q: show queue %s", ErrUsage, k, queueArgs)
		}
	}
	return f, nil
}

// parseAge reads 90m, 24h or 7d.
func parseAge(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("want a duration like 90m, 24h or 7d")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration like 90m, 24h or 7d")
	}
	return d, nil
}

func (f queueFilter) apply(qs []QueueEntry, now time.Time) []QueueEntry {
	out := []QueueEntry{}
	for _, q := range qs {
		if len(out) >= f.limit {
			break
		}
		if f.from != "" && !strings.Contains(strings.ToLower(q.From), f.from) ||
			f.to != "" && !strings.Contains(strings.ToLower(q.Rcpt), f.to) ||
			f.status != "" && q.Status != f.status || f.id != "" && q.ID != f.id {
			continue
		}
		if f.olderThan > 0 {
			received, err := time.Parse(time.RFC3339, q.Received)
			if err != nil || now.Sub(received) < f.olderThan {
				continue
			}
		}
		out = append(out, q)
	}
	return out
}

// hostPort25 is HOST[:PORT] with port 25 when none is given.
func hostPort25(v string) (string, error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		host, port = strings.Trim(v, "[]"), "25"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%w: %q: the port is a number from 1 to 65535", ErrUsage, v)
	}
	if host == "" || strings.ContainsAny(host, " /@,;") {
		return "", fmt.Errorf("%w: %q is not a host name or address", ErrUsage, v)
	}
	return net.JoinHostPort(host, port), nil
}
