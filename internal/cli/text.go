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

func messageTable(ms []MessageSummary) string {
	if len(ms) == 0 {
		return "no messages"
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tRECEIVED\tFROM\tTO\tSUBJECT\tSTATE\tRISK\tACTION")
	for _, m := range ms {
		to := strings.Join(m.To, ",")
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Received, cut(m.From, 30), cut(to, 30), cut(m.Subject, 40), m.State, m.Risk, m.Action)
	}
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

func queueTable(qs []QueueEntry) string {
	if len(qs) == 0 {
		return "queue is empty"
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tFROM\tRCPT\tSTATUS\tATTEMPTS\tNEXT\tLAST ERROR")
	for _, q := range qs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", q.ID, cut(q.From, 30), cut(q.Rcpt, 30), q.Status, q.Attempts, q.NextAttempt, cut(q.LastError, 60))
	}
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
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
