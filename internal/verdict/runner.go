// Package verdict takes a received message from analysis to its state: it
// runs the pipeline (internal/analysis), asks the policy (internal/policy)
// what to do for each group of recipients, carries out the actions that
// make new messages or bytes (split copies, the stripped copy, rewritten
// links, notifications), and commits the verdict with all of it in one
// transaction, before delivery hears of it.
package verdict

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"mailinspector/internal/analysis"
	"mailinspector/internal/dispatch"
	"mailinspector/internal/message"
	"mailinspector/internal/policy"
	"mailinspector/internal/spool"
	"mailinspector/internal/store"
)

// Policy is what the runner asks: policy.Engine.
type Policy interface {
	DecideEach(m *store.Message, rep analysis.Report) []policy.Group
}

// Runner is the bounded worker pool that takes received messages, runs the
// pipeline and records the verdict. It never runs inside an SMTP session.
// What is not handed over in memory is found in the database, so a restart
// resumes every message that had not been decided.
type Runner struct {
	DB       *store.DB
	Spool    *spool.Spool
	Pipeline *analysis.Pipeline
	// Policy decides for each group of recipients (at least one). The
	// first group's stays with the message; each other group's
	// recipients go to a copy of it (KindSplit) that is analysed and
	// decided on its own.
	Policy  Policy
	Workers int
	Log     *slog.Logger
	Queued  func(id string) // hands a message to delivery
	// ExpectQueued, when set, is given the row of a message the verdict
	// queues and its recipients' rows, as the verdict writes them, before
	// it is committed (dispatch.Handover says why before); ForgetQueued when
	// that commit failed. Delivery then need not read them back.
	ExpectQueued func(m *store.Message, rcpts []store.Recipient)
	ForgetQueued func(id string)
	// LinkFor is where a link of message id goes for the block-links and
	// warn-links actions (mode "block" or "warn").
	LinkFor func(id, mode, url string) string
	// Clicks, when set, wraps the links of a message being delivered to
	// to for time-of-click (it decides whether and which: inbound mail,
	// by click.rewrite) and says what it did for the trail ("": nothing
	// to say); an error leaves the message as it came.
	Clicks func(m *analysis.Message, to []string, findings []store.Finding) (Clicked, error)
	// Limits are the MIME walk's, for the copies the actions make (strip,
	// links).
	Limits message.Limits
	// ScratchDir holds decoded parts past ScratchMem bytes per message.
	ScratchDir string
	ScratchMem int64
	// Feedback queues Smart Feedback records with each verdict;
	// FeedbackURLs adds the links' URLs to them (feedback.share_urls).
	Feedback, FeedbackURLs bool
	// Decided, when set, is told of every verdict once it is stored (not
	// of holds): the message as it came, the verdict and the attachments'
	// names. SIEM export builds its events from it.
	Decided func(meta *store.Message, v *store.Verdict, attachments []string)

	d         dispatch.Dispatcher
	Processed atomic.Int64 // messages decided; the watchdog checks it moves
	// expected holds the rows of messages being accepted, exactly as they
	// are being inserted: the first analysis of each takes its row from
	// here instead of reading it back, which was 5% of the relay path's
	// CPU.
	expected dispatch.Handover[*store.Message]
}

// Clicked is what the Clicks hook did: its word for the trail, and the
// copies it spooled, one per recipient but the first, whose links are
// wrapped for that recipient alone (the message keeps the first).
type Clicked struct {
	Detail string
	Copies []ClickCopy
}

// ClickCopy is a copy of a message for one recipient.
type ClickCopy struct {
	ID, Rcpt string
	Size     int64
}

// Submit hands over a message that was just received.
func (r *Runner) Submit(id string) { r.d.Submit(id) }

// Expect is given a received message's row before the row is committed.
func (r *Runner) Expect(m *store.Message) { r.expected.Put(m.ID, m.Stored()) }

// Forget drops what Expect was given: the row was not committed.
func (r *Runner) Forget(id string) { r.expected.Drop(id) }

// message is the row of message id: the one Expect was given, or the
// database's.
func (r *Runner) message(ctx context.Context, id string) (*store.Message, error) {
	if m, ok := r.expected.Take(id); ok {
		return m, nil
	}
	return r.DB.GetMessage(ctx, id)
}

// Run analyses until ctx ends, then waits for messages in progress.
func (r *Runner) Run(ctx context.Context) {
	r.d.Name, r.d.Workers, r.d.Log, r.d.Work = "analysis", r.Workers, r.Log, r.process
	r.d.Scan = dispatch.Scanner(r.DB.ToAnalyse, r.DB.NextAnalysis)
	r.d.Run(ctx)
}

func (r *Runner) process(ctx context.Context, id string) {
	log := r.Log.With("id", id)
	meta, err := r.message(ctx, id)
	if err != nil {
		log.Error("analysis: read message", "err", err)
		return
	}
	if meta.State != store.StateReceived && meta.State != store.StateAnalysing {
		return
	}
	m := &analysis.Message{Meta: meta, Open: func() (io.ReadCloser, error) { return r.Spool.Open(id) }}
	if f, err := r.Spool.Open(id); err != nil {
		log.Error("analysis: spool file missing", "err", err)
	} else {
		if msg, err := mail.ReadMessage(bufio.NewReaderSize(f, 16*1024)); err == nil {
			m.Header = msg.Header
		}
		f.Close()
	}
	m.Parts = analysis.NewParts(r.ScratchDir, r.ScratchMem, meta.Size)
	rep := r.analyse(ctx, m)
	m.Parts.Close()
	if ctx.Err() != nil {
		return // shutting down: the message stays received and is analysed after restart
	}
	v := &store.Verdict{Risk: rep.Risk, Trail: rep.Trail, Findings: rep.Findings, Objects: analysis.StoredObjects(m)}
	if m.Header != nil {
		dec := new(mime.WordDecoder)
		v.Subject = decodeHeader(dec, m.Header.Get("Subject"))
		v.HeaderFrom = decodeHeader(dec, m.Header.Get("From"))
		v.MessageID = m.Header.Get("Message-Id")
	}
	rep.Subject = v.Subject
	if m.Extract != nil {
		for _, p := range m.Extract.Parts {
			if p.Attachment && p.Filename != "" {
				rep.Attachments = append(rep.Attachments, p.Filename)
			}
		}
	}
	var dec policy.Decision
	var splits []*store.Message
	to := meta.To
	if rep.Hold > 0 {
		v.State, v.AnalyseAfter, v.ResumeAt = store.StateAnalysing, time.Now().Add(rep.Hold), rep.ResumeAt
	} else {
		groups := r.Policy.DecideEach(meta, rep)
		dec, to = groups[0].Decision, groups[0].Rcpts
		if len(groups) > 1 {
			// Recipients under another exception or policy: a copy each,
			// analysed and decided on its own; this message keeps the
			// first group's.
			for _, g := range groups[1:] {
				cp, err := r.split(m, g.Rcpts)
				if err != nil {
					log.Error("analysis: split the recipients", "err", err)
					for _, c := range splits {
						r.Spool.Remove(c.ID)
					}
					return // analysed again: nothing was decided
				}
				splits = append(splits, cp)
				v.Trail = append(v.Trail, store.TrailEntry{At: time.Now(), Stage: "policy", Outcome: analysis.OutcomeOK,
					Detail: fmt.Sprintf("recipients %s fall under %s: split to message %s, decided on its own",
						strings.Join(g.Rcpts, ", "), g.Decision.Rule, cp.ID)})
			}
			v.To = to
		}
		v.State, v.Action, v.Reason, v.Rewrite = dec.State, dec.Action, dec.Reason, dec.Rewrite
		if dec.Rule != "" {
			v.Trail = append(v.Trail, store.TrailEntry{At: time.Now(), Stage: "policy", Outcome: analysis.OutcomeOK,
				Detail: dec.Rule + " -> " + dec.Action})
		}
		if h := analysis.ERSHeader(rep); h != "" && v.State == store.StateQueued {
			rw := store.Rewrite{}
			if v.Rewrite != nil {
				rw = *v.Rewrite
			}
			rw.AddHeaders = append(rw.AddHeaders, h)
			v.Rewrite = &rw
		}
		if r.Feedback && meta.Kind != store.KindSplit {
			v.Feedback = analysis.FeedbackRecords(m, rep.Risk, r.FeedbackURLs) // once per message, not per copy
		}
	}
	// A verdict may be lost in a power failure: the message is analysed
	// again. A spool file the verdict makes useless goes only once the
	// verdict is durable.
	var removeFile func()
	if v.State == store.StateMonitored || v.State == store.StateDeleted {
		removeFile = func() {
			if err := r.Spool.Remove(id); err != nil {
				log.Warn("analysis: remove spool file", "err", err)
			}
		}
	}
	// Messages the decision sends along (notifications, a stripped copy)
	// go to the spool first, then into the same transaction as the
	// verdict.
	var extra []*store.Message
	if dec.Strip && v.State == store.StateQueued {
		if cp, err := policy.StrippedCopy(r.Spool, meta, m.Open, r.limits(), rep, dec, to); err != nil {
			log.Error("analysis: strip attachments; quarantining the whole message instead", "err", err)
			v.State, v.Reason = store.StateQuarantined, "strip-failed"
		} else {
			extra = append(extra, cp)
			v.State, v.Reason, v.Rewrite = store.StateQuarantined, "stripped", nil
			v.Trail = append(v.Trail, store.TrailEntry{At: time.Now(), Stage: "policy", Outcome: analysis.OutcomeOK,
				Detail: "attachments stripped: the copy " + cp.ID + " is delivered, this original stays in quarantine"})
		}
	}
	if dec.Links != "" && v.State == store.StateQueued && r.LinkFor != nil {
		if n, err := policy.RewriteLinks(r.Spool, id, m.Open, r.limits(), func(u string) string { return r.LinkFor(id, dec.Links, u) }); err != nil {
			log.Error("analysis: rewrite links; quarantining the message instead", "err", err)
			v.State, v.Reason = store.StateQuarantined, "links-failed"
		} else {
			v.Trail = append(v.Trail, store.TrailEntry{At: time.Now(), Stage: "policy", Outcome: analysis.OutcomeOK,
				Detail: fmt.Sprintf("%d links now lead to the %s page", n, dec.Links)})
			v.Size = r.spoolSize(id)
		}
	}
	deliverTo := dec.Deliver(to)
	if dec.Links == "" && v.State == store.StateQueued && r.Clicks != nil {
		c, err := r.Clicks(m, deliverTo, v.Findings)
		switch {
		case err != nil:
			log.Warn("analysis: time-of-click: links not wrapped", "err", err)
			v.Trail = append(v.Trail, store.TrailEntry{At: time.Now(), Stage: "time-of-click", Outcome: analysis.OutcomeSkipped,
				Detail: "links not wrapped, the message goes as it came: " + err.Error()})
		case c.Detail != "":
			v.Trail = append(v.Trail, store.TrailEntry{At: time.Now(), Stage: "time-of-click", Outcome: analysis.OutcomeOK, Detail: c.Detail})
			v.Size = r.spoolSize(id)
		}
		if len(c.Copies) > 0 {
			// A copy each for the others: the message keeps the first.
			deliverTo = deliverTo[:1]
			v.To = deliverTo
			for _, cp := range c.Copies {
				extra = append(extra, &store.Message{ID: cp.ID, Received: meta.Received, Kind: store.KindSplit, From: meta.From,
					To: []string{cp.Rcpt}, ClientIP: meta.ClientIP, Helo: meta.Helo, TLS: meta.TLS, Size: cp.Size, State: store.StateQueued,
					Risk: v.Risk, Action: v.Action + " (time-of-click copy of " + id + ")", Subject: v.Subject, HeaderFrom: v.HeaderFrom,
					MessageID: v.MessageID, Rewrite: v.Rewrite})
			}
		}
	}
	for _, o := range dec.Extra {
		oid := store.NewID(time.Now())
		if err := r.Spool.Put(oid, bytes.NewReader(o.Body)); err != nil {
			log.Error("analysis: spool notification", "err", err)
			continue
		}
		extra = append(extra, &store.Message{ID: oid, Received: time.Now(), Kind: store.KindNotification, From: o.From, To: o.To,
			Size: int64(len(o.Body)), State: store.StateQueued, Action: "deliver", Risk: analysis.RiskNone, Subject: "notification about " + id})
	}
	var queued []store.Recipient
	if v.State == store.StateQueued {
		queued = store.PendingRecipients(id, deliverTo, time.Now())
		if r.ExpectQueued != nil {
			r.ExpectQueued(queuedRow(meta, v), append([]store.Recipient(nil), queued...))
		}
	}
	err = r.DB.WriteLazy(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		if err := store.SaveVerdict(tx, id, v); err != nil {
			return err
		}
		for _, o := range extra {
			if err := store.InsertMessage(tx, o); err != nil {
				return err
			}
			if err := store.QueueRecipients(tx, o.ID, o.To); err != nil {
				return err
			}
			if o.Kind == store.KindSplit { // a time-of-click copy: its page says whose
				if err := store.AddTrail(tx, o.ID, store.TrailEntry{At: time.Now(), Stage: "time-of-click", Outcome: analysis.OutcomeOK,
					Detail: "a copy of message " + id + " for " + strings.Join(o.To, ", ") + " alone, with its own links: its analysis is that message's"}); err != nil {
					return err
				}
			}
		}
		for _, c := range splits {
			if err := store.InsertMessage(tx, c); err != nil {
				return err
			}
			if err := store.AddTrail(tx, c.ID, store.TrailEntry{At: time.Now(), Stage: "policy", Outcome: analysis.OutcomeOK,
				Detail: "split from message " + id + ": these recipients fall under another exception or policy"}); err != nil {
				return err
			}
		}
		if v.State == store.StateQueued {
			return store.QueueRecipientRows(tx, id, queued)
		}
		return nil
	}, removeFile)
	if err != nil {
		if queued != nil && r.ForgetQueued != nil {
			r.ForgetQueued(id)
		}
		for _, c := range splits {
			r.Spool.Remove(c.ID)
		}
		log.Error("analysis: save verdict", "err", err)
		return
	}
	for _, c := range splits {
		r.Submit(c.ID)
	}
	r.Processed.Add(1)
	if r.Decided != nil && v.State != store.StateAnalysing {
		r.Decided(meta, v, rep.Attachments)
	}
	log.Info("analysed", "risk", rep.Risk, "state", v.State, "action", v.Action, "findings", len(rep.Findings))
	if r.Queued != nil {
		if v.State == store.StateQueued {
			r.Queued(id)
		}
		for _, o := range extra {
			r.Queued(o.ID)
		}
	}
	if v.State == store.StateAnalysing {
		r.d.Kick() // the dispatcher learns when the hold ends
	}
}

// analyse runs the pipeline: from the start, or, for a message an earlier
// run held (waiting for the sandbox), from the stage that held it, the
// findings of the steps before it standing.
func (r *Runner) analyse(ctx context.Context, m *analysis.Message) analysis.Report {
	if m.Meta.State != store.StateAnalysing || m.Meta.ResumeAt == "" {
		return r.Pipeline.Run(ctx, m)
	}
	prior, err := r.DB.Findings(ctx, m.Meta.ID)
	if err != nil {
		r.Log.Warn("analysis: read the findings of the run before; analysing from the start", "id", m.Meta.ID, "err", err)
		return r.Pipeline.Run(ctx, m)
	}
	return r.Pipeline.Resume(ctx, m, m.Meta.ResumeAt, prior)
}

// split makes the copy of a message for some of its recipients and spools
// it; its row is inserted with the verdict.
func (r *Runner) split(m *analysis.Message, rcpts []string) (*store.Message, error) {
	f, err := m.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	id := store.NewID(time.Now())
	if err := r.Spool.Put(id, f); err != nil {
		return nil, err
	}
	meta := m.Meta
	return &store.Message{ID: id, Received: meta.Received, Kind: store.KindSplit, From: meta.From, To: rcpts, ClientIP: meta.ClientIP,
		Helo: meta.Helo, TLS: meta.TLS, Size: meta.Size, State: store.StateReceived, ERS: meta.ERS}, nil
}

// spoolSize is a message's size on the spool after an action rewrote it
// (0: unknown, the size received stays).
func (r *Runner) spoolSize(id string) int64 {
	fi, err := os.Stat(r.Spool.Path(id))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// queuedRow is the message's row as the verdict v that queues it leaves it
// (SaveVerdict, then QueueRecipients), as a reader gets it back.
func queuedRow(meta *store.Message, v *store.Verdict) *store.Message {
	q := *meta
	if v.To != nil {
		q.To = v.To
	}
	q.State, q.Risk, q.Action, q.Reason, q.ResumeAt = store.StateQueued, v.Risk, v.Action, v.Reason, v.ResumeAt
	q.AnalyseAfter, q.Subject, q.HeaderFrom, q.MessageID = v.AnalyseAfter, v.Subject, v.HeaderFrom, v.MessageID
	if v.Size > 0 {
		q.Size = v.Size
	}
	q.Rewrite = nil
	if !v.Rewrite.Empty() {
		rw := *v.Rewrite
		q.Rewrite = &rw
	}
	q.Updated = time.Now()
	return q.Stored()
}

// decodeHeader decodes RFC 2047 encoded words for display; undecodable text
// is kept as it came.
func decodeHeader(dec *mime.WordDecoder, v string) string {
	if d, err := dec.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// limits are Limits, or the walk's defaults when unset.
func (r *Runner) limits() message.Limits {
	if r.Limits.MaxParts == 0 {
		return message.DefaultLimits
	}
	return r.Limits
}

// Busy is how many messages are being analysed or wait in memory.
func (r *Runner) Busy() int { return r.d.Busy() }
