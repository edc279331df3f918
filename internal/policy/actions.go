package policy

import (
	"io"
	"time"

	"mailinspector/internal/analysis"
	"mailinspector/internal/message"
	"mailinspector/internal/spool"
	"mailinspector/internal/store"
)

// The actions that make a new message or new bytes: the stripped copy and
// the links rewritten. The runner (internal/verdict) calls them when the
// decision asks, before it commits the verdict.

// StrippedCopy makes the copy of a message (its row meta, its bytes from
// open) without attachments that the strip action delivers to the
// decision's recipients, and spools it; the original stays in quarantine.
func StrippedCopy(sp *spool.Spool, meta *store.Message, open func() (io.ReadCloser, error), lim message.Limits,
	rep analysis.Report, dec Decision, to []string) (*store.Message, error) {
	notice := func(p *message.Part) string {
		name := p.Filename
		if name == "" {
			name = "an attachment (part " + p.Path + ")"
		}
		return "Mail Inspector removed " + name + " from this message (risk: " + rep.Risk + ").\r\n" +
			"The original is kept in quarantine as " + meta.ID + "; your administrator can release it.\r\n"
	}
	f, err := sp.Create()
	if err != nil {
		return nil, err
	}
	if _, err := message.Strip(open, lim, notice, f); err != nil {
		f.Abort()
		return nil, err
	}
	id := store.NewID(time.Now())
	if err := f.Commit(id); err != nil {
		return nil, err
	}
	return &store.Message{ID: id, Received: time.Now(), Kind: store.KindStripped, From: meta.From,
		To: dec.Deliver(to), Size: f.Size(), State: store.StateQueued,
		Action: "deliver (stripped copy of " + meta.ID + ")", Risk: rep.Risk, Subject: rep.Subject, Rewrite: dec.Rewrite}, nil
}

// RewriteLinks replaces message id's spool file with a copy whose links
// lead where linkFor says (the link pages of the block-links and warn-links
// actions). The new file replaces the old atomically and durably before
// the verdict is committed; a crash in between re-analyses the rewritten
// message, which still leads nowhere dangerous.
func RewriteLinks(sp *spool.Spool, id string, open func() (io.ReadCloser, error), lim message.Limits, linkFor func(url string) string) (int, error) {
	n, _, err := respool(sp, open, id, true, func(r io.Reader, w io.Writer) (int, error) { return message.RewriteLinks(r, lim, linkFor, w) }, nil)
	return n, err
}

// RewriteClicks replaces message id's spool file with a copy whose links
// a person clicks lead where wrap says (time-of-click), as RewriteLinks
// does for the link pages. The wrapped links are kept (keep, a durable
// write) before the copy replaces the message: a crash in between leaves
// links nobody got, never a message whose links lead nowhere. Nothing
// wrapped: the message stays as it came.
func RewriteClicks(sp *spool.Spool, id string, open func() (io.ReadCloser, error), lim message.Limits, wrap func(message.ClickLink) (string, bool), keep func() error) (int, error) {
	n, _, err := respool(sp, open, id, false, func(r io.Reader, w io.Writer) (int, error) { return message.RewriteClicks(r, lim, wrap, w) }, keep)
	return n, err
}

// UnwrapClicks replaces message id's spool file with a copy whose links
// unwrap says are wrapped links go back to their originals (outbound
// mail); nothing is written when none is.
func UnwrapClicks(sp *spool.Spool, id string, open func() (io.ReadCloser, error), lim message.Limits, unwrap func(message.ClickLink) (string, bool)) (int, error) {
	n, _, err := respool(sp, open, id, false, func(r io.Reader, w io.Writer) (int, error) { return message.UnwrapClicks(r, lim, unwrap, w) }, nil)
	return n, err
}

// CopyWithClicks spools a copy of a message whose clicked links lead
// where wrap says, under a new ID, once keep has kept the wrapped links;
// it returns the copy's ID and size. Nothing is spooled on an error.
func CopyWithClicks(sp *spool.Spool, open func() (io.ReadCloser, error), lim message.Limits, wrap func(message.ClickLink) (string, bool), keep func() error) (string, int64, error) {
	id := store.NewID(time.Now())
	_, size, err := respool(sp, open, id, true, func(r io.Reader, w io.Writer) (int, error) { return message.RewriteClicks(r, lim, wrap, w) }, keep)
	if err != nil {
		return "", 0, err
	}
	return id, size, nil
}

// respool writes a message (open) through rewrite into a new spool file
// and commits it as id, replacing a file of that ID atomically and
// durably: after keep, when given, has succeeded, and (unless always)
// only when rewrite changed something. It returns what rewrite changed
// and the new file's size; on an error, or nothing to change, no file is
// committed.
func respool(sp *spool.Spool, open func() (io.ReadCloser, error), id string, always bool, rewrite func(io.Reader, io.Writer) (int, error), keep func() error) (int, int64, error) {
	src, err := open()
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	f, err := sp.Create()
	if err != nil {
		return 0, 0, err
	}
	n, err := rewrite(src, f)
	if err != nil || n == 0 && !always {
		f.Abort()
		return 0, 0, err
	}
	if keep != nil {
		if err := keep(); err != nil {
			f.Abort()
			return 0, 0, err
		}
	}
	size := f.Size()
	return n, size, f.Commit(id)
}
