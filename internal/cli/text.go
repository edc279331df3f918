package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// table aligns rows under a header, or says empty when there are none.
func table(empty string, header []string, rows [][]string) string {
	if len(rows) == 0 {
		return empty
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

func messageTable(ms []MessageSummary) string {
	rows := make([][]string, 0, len(ms))
	for _, m := range ms {
		rows = append(rows, []string{m.ID, m.Received, cut(m.From, 30), cut(strings.Join(m.To, ","), 30), cut(m.Subject, 40), m.State, m.Risk, m.Action})
	}
	return table("no messages", []string{"ID", "RECEIVED", "FROM", "TO", "SUBJECT", "STATE", "RISK", "ACTION"}, rows)
}

func servicesTable(ss []ServiceStatus) string {
	rows := make([][]string, 0, len(ss))
	for _, s := range ss {
		rows = append(rows, []string{s.Name, s.State, s.LastOK, fmt.Sprint(s.Calls), fmt.Sprint(s.Failures), fmt.Sprint(s.Skips),
			fmt.Sprint(s.CacheHits), cut(s.LastError, 60)})
	}
	return table("no services", []string{"SERVICE", "STATE", "LAST OK", "CALLS", "FAILURES", "SKIPS", "CACHE HITS", "LAST ERROR"}, rows)
}

func queueTable(qs []QueueEntry) string {
	rows := make([][]string, 0, len(qs))
	for _, q := range qs {
		rows = append(rows, []string{q.ID, cut(q.From, 30), cut(q.Rcpt, 30), q.Status, fmt.Sprint(q.Attempts), q.NextAttempt, cut(q.LastError, 60)})
	}
	return table("queue is empty", []string{"ID", "FROM", "RCPT", "STATUS", "ATTEMPTS", "NEXT", "LAST ERROR"}, rows)
}

func messageText(m *MessageDetail) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Message %s\n", m.ID)
	fmt.Fprintf(&b, "  received  %s from %s [%s] helo %s\n", m.Received, m.From, m.ClientIP, m.Helo)
	if m.TLS != "" {
		fmt.Fprintf(&b, "  tls       %s\n", m.TLS)
	}
	fmt.Fprintf(&b, "  to        %s\n", strings.Join(m.To, ", "))
	fmt.Fprintf(&b, "  header    From %s, Subject %q, Message-ID %s\n", m.HeaderFrom, m.Subject, m.MessageID)
	fmt.Fprintf(&b, "  size      %d bytes\n", m.Size)
	fmt.Fprintf(&b, "  verdict   state %s, risk %s, action %s", m.State, m.Risk, m.Action)
	if m.Reason != "" {
		fmt.Fprintf(&b, ", reason %s", m.Reason)
	}
	b.WriteString("\nTrail:\n")
	for _, t := range m.Trail {
		svc := ""
		if t.Service != "" {
			svc = " [" + t.Service + "]"
		}
		fmt.Fprintf(&b, "  %s %s%s: %s %s\n", t.At, t.Stage, svc, t.Outcome, t.Detail)
	}
	if len(m.Findings) > 0 {
		b.WriteString("Findings:\n")
		for _, f := range m.Findings {
			fmt.Fprintf(&b, "  %s risk by %s: %s %s at %s: %s\n", f.Risk, f.Engine, f.Threat, f.Name, f.Location, f.Detail)
		}
	}
	if len(m.Recipients) > 0 {
		b.WriteString("Recipients:\n")
		for _, r := range m.Recipients {
			fmt.Fprintf(&b, "  %s %s after %d attempt(s) %s\n", r.Rcpt, r.Status, r.Attempts, r.LastError)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
