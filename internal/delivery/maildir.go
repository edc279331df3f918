package delivery

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailinspector/internal/durable"
)

// Maildir delivers into one Maildir per recipient under Dir (the embedded
// default when no downstream is configured), durably: tmp/, fsync, rename
// into new/, fsync new/.
type Maildir struct {
	Dir      string
	Hostname string
}

func (m *Maildir) Deliver(ctx context.Context, env *Envelope) []Result {
	out := make([]Result, len(env.To))
	for i, r := range env.To {
		if err := m.deliverOne(env, r); err != nil {
			out[i] = Result{Err: fmt.Errorf("maildir: %w", err)}
		}
	}
	return out
}

// MailboxDir is the Maildir of a recipient: the address lower-cased, with
// every character that could name another path replaced.
func (m *Maildir) MailboxDir(rcpt string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '@', r == '-', r == '_', r == '+', r == '=':
			return r
		case r == '.':
			return '.'
		}
		return '_'
	}, strings.ToLower(rcpt))
	if strings.HasPrefix(name, ".") {
		name = "_" + name[1:]
	}
	return filepath.Join(m.Dir, name)
}

func (m *Maildir) deliverOne(env *Envelope, rcpt string) error {
	box := m.MailboxDir(rcpt)
	for _, d := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(box, d), 0o750); err != nil {
			return err
		}
	}
	body, err := env.Open()
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer body.Close()
	name := fmt.Sprintf("%d.%s.%s", time.Now().Unix(), env.ID, strings.ReplaceAll(m.Hostname, "/", "_"))
	tmp := filepath.Join(box, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "Return-Path: <%s>\r\nDelivered-To: %s\r\n", env.From, rcpt); err == nil {
		_, err = io.Copy(f, body)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(box, "new", name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return durable.SyncDir(filepath.Join(box, "new"))
}
