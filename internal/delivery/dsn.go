package delivery

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"mailinspector/internal/store"
)

// maxDSNHeader bounds how much of the original header a DSN returns.
const maxDSNHeader = 64 * 1024

var enhancedCode = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)

// dsnStatus is the RFC 3463 status for a failed recipient: the enhanced
// code the downstream gave, 4.4.7 for an expired queue lifetime, else 5.0.0.
func dsnStatus(r store.Recipient) string {
	if strings.HasPrefix(r.LastError, "queue lifetime exceeded") {
		return "4.4.7"
	}
	if m := enhancedCode.FindString(r.LastError); m != "" && m[0] == '5' {
		return m
	}
	return "5.0.0"
}

// makeDSN writes a delivery status notification (RFC 3464, multipart/report
// of RFC 6522) for the failed recipients into the spool and returns its row.
func (q *Queue) makeDSN(orig *store.Message, failed []store.Recipient) (*store.Message, error) {
	now := time.Now()
	id := store.NewID(now)
	boundary := "dsn-" + id
	var b bytes.Buffer
	fmt.Fprintf(&b, "Received: by %s (Mail Inspector) id %s; %s\r\n", q.Hostname, id, now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", q.Hostname)
	fmt.Fprintf(&b, "To: <%s>\r\n", orig.From)
	b.WriteString("Subject: Undelivered Mail Returned to Sender\r\n")
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", id, q.Hostname)
	b.WriteString("Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n", boundary)
	b.WriteString("This is a MIME-encapsulated message.\r\n\r\n")

	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", boundary)
	fmt.Fprintf(&b, "This is the mail system at %s.\r\n\r\n", q.Hostname)
	b.WriteString("Your message could not be delivered to one or more recipients.\r\n")
	b.WriteString("It is attached below (headers only).\r\n\r\n")
	for _, r := range failed {
		fmt.Fprintf(&b, "<%s>: %s\r\n", r.Rcpt, oneLine(r.LastError))
	}
	b.WriteString("\r\n")

	fmt.Fprintf(&b, "--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary)
	fmt.Fprintf(&b, "Reporting-MTA: dns; %s\r\nX-MailInspector-Queue-ID: %s\r\nArrival-Date: %s\r\n", q.Hostname, orig.ID, orig.Received.Format(time.RFC1123Z))
	for _, r := range failed {
		fmt.Fprintf(&b, "\r\nFinal-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: %s\r\nDiagnostic-Code: smtp; %s\r\n",
			r.Rcpt, dsnStatus(r), oneLine(r.LastError))
	}
	b.WriteString("\r\n")

	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary)
	if f, err := q.Spool.Open(orig.ID); err == nil {
		copyHeader(&b, f)
		f.Close()
	}
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)

	size := int64(b.Len())
	if err := q.Spool.Put(id, &b); err != nil {
		return nil, err
	}
	return &store.Message{ID: id, Received: now, Kind: store.KindDSN, From: "", To: []string{orig.From},
		Subject: "Undelivered Mail Returned to Sender", HeaderFrom: "MAILER-DAEMON@" + q.Hostname,
		Size: size, State: store.StateQueued, Action: "deliver", Risk: "none"}, nil
}

// copyHeader copies the header block of a message (up to the blank line,
// at most maxDSNHeader bytes), with CRLF line ends.
func copyHeader(w io.Writer, r io.Reader) {
	br := bufio.NewReader(io.LimitReader(r, maxDSNHeader))
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return
		}
		io.WriteString(w, line+"\r\n")
		if err != nil {
			return
		}
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
