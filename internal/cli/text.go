package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// term makes a string from mail (or from a remote server) safe to print
// on the administrator's terminal: control characters (an escape sequence
// could rewrite the screen or the title, a newline could forge a line of
// the output), C1 controls and the bidirectional overrides are written as
// escapes; everything else stays as it is.
func term(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 ||
		r == 0x200e || r == 0x200f || r == 0x061c
}

// cut shortens a string for a column, made safe for the terminal first.
func cut(s string, n int) string {
	s = term(s)
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
	out := table("no services", []string{"SERVICE", "STATE", "LAST OK", "CALLS", "FAILURES", "SKIPS", "CACHE HITS", "LAST ERROR"}, rows)
	for _, s := range ss {
		if s.Note != "" {
			out += "\n" + s.Name + ": " + term(s.Note)
		}
	}
	return out
}

func queueTable(qs []QueueEntry) string {
	rows := make([][]string, 0, len(qs))
	for _, q := range qs {
		status := q.Status
		if q.Route != "" {
			status += " via " + q.Route
		}
		rows = append(rows, []string{q.ID, cut(q.From, 30), cut(q.Rcpt, 30), status, fmt.Sprint(q.Attempts), q.NextAttempt, cut(q.LastError, 60)})
	}
	return table("no recipient waits", []string{"ID", "FROM", "RCPT", "STATUS", "ATTEMPTS", "NEXT", "LAST ERROR"}, rows)
}

func messageText(m *MessageDetail) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Message %s\n", m.ID)
	fmt.Fprintf(&b, "  received  %s from %s [%s] helo %s\n", m.Received, term(m.From), m.ClientIP, term(m.Helo))
	if m.TLS != "" {
		fmt.Fprintf(&b, "  tls       %s\n", m.TLS)
	}
	fmt.Fprintf(&b, "  to        %s\n", term(strings.Join(m.To, ", ")))
	fmt.Fprintf(&b, "  header    From %s, Subject \"%s\", Message-ID %s\n", term(m.HeaderFrom), term(m.Subject), term(m.MessageID))
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
		fmt.Fprintf(&b, "  %s %s%s: %s %s\n", t.At, t.Stage, svc, t.Outcome, term(t.Detail))
	}
	if len(m.Findings) > 0 {
		b.WriteString("Findings:\n")
		for _, f := range m.Findings {
			fmt.Fprintf(&b, "  %s risk by %s: %s %s at %s: %s\n", f.Risk, f.Engine, f.Threat, term(f.Name), term(f.Location), term(f.Detail))
		}
	}
	if len(m.Attachments) > 0 {
		b.WriteString("Files:\n")
		for _, f := range m.Attachments {
			declared := ""
			if f.Declared != "" && f.Declared != f.TrueType {
				declared = ", declared " + term(f.Declared)
			}
			fmt.Fprintf(&b, "  %s at %s: %s%s, %d bytes, sha256 %s\n", term(f.Name), term(f.Location), term(f.TrueType), declared, f.Size, f.SHA256)
			for _, r := range f.Results {
				fmt.Fprintf(&b, "    %s\n", term(r))
			}
			if f.Sandbox != "" {
				fmt.Fprintf(&b, "    virtual analyzer: %s\n", f.Sandbox)
			}
		}
	}
	if len(m.Links) > 0 {
		b.WriteString("Links:\n")
		for _, l := range m.Links {
			fmt.Fprintf(&b, "  %s at %s\n", term(l.URL), term(l.Location))
			if l.Clicks > 0 {
				fmt.Fprintf(&b, "    clicked %d times, last %s\n", l.Clicks, term(l.LastClick))
			}
			for _, r := range l.Results {
				fmt.Fprintf(&b, "    %s\n", term(r))
			}
		}
	}
	if len(m.Relays) > 0 {
		fmt.Fprintf(&b, "Relays (newest first): %s\n", strings.Join(m.Relays, ", "))
	}
	if len(m.Recipients) > 0 {
		b.WriteString("Recipients:\n")
		for _, r := range m.Recipients {
			fmt.Fprintf(&b, "  %s %s after %d attempt(s) %s\n", term(r.Rcpt), r.Status, r.Attempts, term(r.LastError))
		}
	}
	if len(m.Headers) > 0 {
		b.WriteString("Header:\n")
		for _, h := range m.Headers {
			fmt.Fprintf(&b, "  %s: %s\n", term(h.Name), term(h.Value))
		}
	} else if m.HeadersGone != "" {
		fmt.Fprintf(&b, "Header: not shown: %s\n", m.HeadersGone)
	}
	return strings.TrimRight(b.String(), "\n")
}

func sandboxText(s *Sandbox) string {
	if !s.Configured || s.Status == nil {
		return "virtual analyzer: not configured (sandbox.libvirt)"
	}
	st := s.Status
	var b strings.Builder
	conn := "connected"
	if !st.Libvirt.Connected {
		conn = "not connected"
	}
	fmt.Fprintf(&b, "libvirt     %s: %s, %d drops", st.Libvirt.URI, conn, st.Libvirt.Drops)
	if st.Libvirt.LastError != "" {
		fmt.Fprintf(&b, ", last error: %s", cut(st.Libvirt.LastError, 80))
	}
	fmt.Fprintf(&b, "\naccelerator %s\nqueue       %d waiting\n", s.Accelerator, st.Queue)
	c := st.Counters
	fmt.Fprintf(&b, "counters    %d submitted, %d reused, %d finished, %d failed, %d requeued, %d taken out, %d reverts\n\n",
		c.Submitted, c.Reused, c.Finished, c.Failed, c.Requeued, c.TakenOut, c.Reverts)
	var rows [][]string
	for _, im := range st.Images {
		for _, in := range im.Instances {
			rows = append(rows, []string{im.Name, in.Domain, in.Agent, in.State, fmt.Sprint(in.Runs), cut(in.Reason, 60)})
		}
	}
	b.WriteString(table("no instances", []string{"IMAGE", "INSTANCE", "AGENT", "STATE", "RUNS", "REASON"}, rows))
	rows = nil
	for i := len(st.Recent) - 1; i >= 0 && len(rows) < 20; i-- {
		r := st.Recent[i]
		rows = append(rows, []string{r.Finished.UTC().Format("2006-01-02T15:04:05Z"), r.SHA256[:min(12, len(r.SHA256))], r.Instance,
			r.Outcome, fmt.Sprint(r.WaitedMS), fmt.Sprint(r.TookMS), fmt.Sprint(r.Attempts), cut(r.Error, 50)})
	}
	b.WriteString("\n\n")
	b.WriteString(table("no analyses yet", []string{"FINISHED", "SHA256", "INSTANCE", "OUTCOME", "WAITED MS", "TOOK MS", "ATTEMPTS", "ERROR"}, rows))
	return b.String()
}

func analysisText(a *Analysis) string {
	var b strings.Builder
	if strings.HasPrefix(a.Name, "http://") || strings.HasPrefix(a.Name, "https://") {
		fmt.Fprintf(&b, "Link %s (key %s), image %s\n  state     %s\n", term(a.Name), a.SHA256, a.Image, a.State)
	} else {
		fmt.Fprintf(&b, "Sample %s (%s), image %s\n  state     %s\n", a.SHA256, term(a.Name), a.Image, a.State)
	}
	if a.Risk != "" {
		fmt.Fprintf(&b, "  risk      %s\n", a.Risk)
	}
	if a.Summary != "" {
		fmt.Fprintf(&b, "  verdict   %s\n", term(a.Summary))
	}
	if a.Error != "" {
		fmt.Fprintf(&b, "  error     %s\n", term(a.Error))
	}
	fmt.Fprintf(&b, "  submitted %s\n", a.Submitted)
	if a.Finished != "" {
		fmt.Fprintf(&b, "  finished  %s\n", a.Finished)
	}
	b.WriteString("  (-o json has the whole report: events, process tree, files, network)")
	return b.String()
}

func previewText(p *Preview) string {
	var b strings.Builder
	switch p.From {
	case "none":
		return "message " + p.ID + " has no text body"
	case "html":
		b.WriteString("(its HTML body as text)\n")
	}
	for _, l := range strings.Split(p.Text, "\n") {
		b.WriteString(term(l) + "\n")
	}
	if p.Cut {
		b.WriteString("[… the preview ends here; show raw has the whole message]\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
