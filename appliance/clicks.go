package appliance

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"mailinspector/internal/analysis"
	"mailinspector/internal/cli"
	"mailinspector/internal/message"
	"mailinspector/internal/policy"
	"mailinspector/internal/risk"
	"mailinspector/internal/services"
	"mailinspector/internal/store"
	"mailinspector/internal/timeofclick"
	"mailinspector/internal/verdict"
)

// Time-of-click (internal/timeofclick, docs/time-of-click.md): the links
// of inbound mail wrapped at delivery, each click judged again.

// clickRewrite is the verdict runner's Clicks: the links of an inbound
// message being delivered are wrapped when click.rewrite says so, the
// click service is served, and the message is not signed (click.signed);
// for up to click.per_recipient_max recipients, in a copy each.
func (a *Appliance) clickRewrite(w *timeofclick.Wrapper) func(m *analysis.Message, to []string, findings []store.Finding) (verdict.Clicked, error) {
	s := a.Settings
	return func(m *analysis.Message, to []string, findings []store.Finding) (verdict.Clicked, error) {
		if s.Mode == "bcc" || m.Meta.Kind != store.KindInbound && m.Meta.Kind != store.KindSplit {
			return verdict.Clicked{}, nil
		}
		if !policy.Inbound(to, s.SMTP.AcceptedDomains) {
			detail, err := a.unwrapClicks(m, w) // outbound mail is never wrapped
			return verdict.Clicked{Detail: detail}, err
		}
		if s.Click.Rewrite == timeofclick.Off || s.Click.Listen == "" || m.Extract != nil && len(m.Extract.URLs) == 0 {
			return verdict.Clicked{}, nil // nothing to wrap: the message is not copied
		}
		if s.Click.Signed == "leave" && signed(m) {
			return verdict.Clicked{Detail: "links not wrapped: the message is signed (S/MIME or PGP/MIME), and a rewrite would break its signature (click.signed)"}, nil
		}
		keep := func(p *timeofclick.Plan) func() error {
			return func() error {
				return a.db.Write(context.Background(), func(tx *store.Tx) error { return store.InsertClickLinks(tx, p.Links) })
			}
		}
		var out verdict.Clicked
		if len(to) > 1 && len(to) <= s.Click.PerRecipientMax {
			// A copy for each recipient but the first, from the message as
			// it came, before the message itself is rewritten for the first.
			for _, rcpt := range to[1:] {
				plan := w.Plan(m.Meta.ID, []string{rcpt}, findings)
				id, size, err := policy.CopyWithClicks(a.spool, m.Open, WalkLimits(s), plan.Wrap, keep(plan))
				if err != nil {
					for _, c := range out.Copies {
						a.spool.Remove(c.ID)
					}
					return verdict.Clicked{}, err
				}
				out.Copies = append(out.Copies, verdict.ClickCopy{ID: id, Rcpt: rcpt, Size: size})
			}
			to = to[:1]
		}
		plan := w.Plan(m.Meta.ID, to, findings)
		n, err := policy.RewriteClicks(a.spool, m.Meta.ID, m.Open, WalkLimits(s), plan.Wrap, keep(plan))
		if err != nil {
			for _, c := range out.Copies {
				a.spool.Remove(c.ID)
			}
			return verdict.Clicked{}, err
		}
		if n == 0 {
			for _, c := range out.Copies { // nothing wrapped in the message: none in its copies either
				a.spool.Remove(c.ID)
			}
			return verdict.Clicked{}, nil
		}
		out.Detail = fmt.Sprintf("%d links wrapped (click.rewrite %s): each click is judged again", n, s.Click.Rewrite)
		if len(out.Copies) > 0 {
			var ids []string
			for _, c := range out.Copies {
				ids = append(ids, c.ID+" ("+c.Rcpt+")")
			}
			out.Detail += fmt.Sprintf("; a copy with its own links for each other recipient: %s", strings.Join(ids, ", "))
		}
		return out, nil
	}
}

// unwrapClicks puts back the original of each link this appliance wrapped
// that an outbound message carries (a reply or a forward quoting one), so
// that nobody outside gets a link into the click service.
func (a *Appliance) unwrapClicks(m *analysis.Message, w *timeofclick.Wrapper) (string, error) {
	if w.Base == "" || !a.mentions(m, w.Base+"/c/") {
		return "", nil
	}
	n, err := policy.UnwrapClicks(a.spool, m.Meta.ID, m.Open, WalkLimits(a.Settings), func(l message.ClickLink) (string, bool) {
		tok, ok := w.Token(l.URL)
		if !ok {
			return "", false
		}
		link, err := a.db.ClickLinkByToken(context.Background(), tok)
		if err != nil {
			return "", false // unknown or purged: it leads to the error page, as it did
		}
		return link.URL, true
	})
	if err != nil || n == 0 {
		return "", err
	}
	return fmt.Sprintf("%d wrapped links put back as they were: outbound mail carries no link into the click service", n), nil
}

// mentions says whether a message's URLs hold prefix (the walk found
// them): most outbound mail has none of ours, and is not copied.
func (a *Appliance) mentions(m *analysis.Message, prefix string) bool {
	if m.Extract == nil {
		return true // not taken apart: look at it whole
	}
	for _, u := range m.Extract.URLs {
		if strings.HasPrefix(strings.ToLower(u.URL), strings.ToLower(prefix)) {
			return true
		}
	}
	return false
}

// signed: a multipart/signed or an S/MIME (pkcs7) message.
func signed(m *analysis.Message) bool {
	if m.Header == nil {
		return false
	}
	ct := strings.ToLower(m.Header.Get("Content-Type"))
	return strings.HasPrefix(ct, "multipart/signed") || strings.Contains(ct, "pkcs7-mime")
}

// clickWrapper is the wrapping settings.
func (a *Appliance) clickWrapper() *timeofclick.Wrapper {
	s := a.Settings
	return &timeofclick.Wrapper{Keys: a.clickKeys, Mode: s.Click.Rewrite, Base: strings.TrimSuffix(s.Click.BaseURL, "/"), Lifetime: s.Click.LinkLifetime,
		Exempt: s.Click.ExemptDomains, Approved: s.Lists.ApprovedDomains}
}

// clickJudge rates a link at a click: the local lists, then web
// reputation, web inspection and domain census in one joint request to
// the hub, each under its service's contract. A link nothing rated is
// unrated; one into lists.approved_domains none, whatever was found (as
// in the mail path); a skipped rating service makes it unrated and the
// evaluation says why.
func (a *Appliance) clickJudge(lists analysis.LocalLists) timeofclick.Judge {
	cloud := a.cloud()
	p := &analysis.Pipeline{StageTimeout: 30 * time.Second, Stages: []analysis.Stage{
		lists,
		analysis.JointLookup{Cloud: cloud, Group: analysis.Concurrent{
			analysis.WebReputation{Cloud: cloud}, analysis.WebInspection{Cloud: cloud}, analysis.DomainCensus{Cloud: cloud},
		}},
	}}
	return func(ctx context.Context, link string) timeofclick.Judgement {
		urls := []message.URL{{URL: link, Raw: link, Where: "click"}}
		for _, in := range message.InnerURLs(link) { // inside another vendor's wrapper
			urls = append(urls, message.URL{URL: in, Raw: link, Where: "click (inside a wrapped link)"})
		}
		m := &analysis.Message{Meta: &store.Message{ID: "click"}, Extract: &message.Result{URLs: urls}}
		rep := p.Run(ctx, m)
		j := timeofclick.Judgement{Risk: "", Evaluation: "done"}
		for _, f := range rep.Findings {
			if risk.Rank(f.Risk) > risk.Rank(j.Risk) {
				j.Risk = f.Risk
			}
		}
		var skipped []string
		for _, t := range rep.Trail {
			if t.Outcome == analysis.OutcomeSkipped {
				skipped = append(skipped, t.Detail)
			}
		}
		if len(skipped) > 0 {
			j.Evaluation = "skipped: " + strings.Join(skipped, "; ")
		}
		if j.Risk == "" || j.Risk == risk.None {
			j.Risk = risk.Unrated
		}
		if _, ok := lists.Exempt(analysis.Finding{Object: link}); ok {
			// Approved wins, as in the mail path (lists.approved_domains:
			// a finding about a link into it does not count).
			j.Risk = risk.None
		}
		return j
	}
}

// checkClickService is time-of-click's health in show services: whether
// the appliance's own click service answers (a wrapped link leads nowhere
// while it does not), not whether the hub does.
func (a *Appliance) checkClickService() {
	cl := a.services.Get(services.TimeOfClick)
	if cl.Usable() == services.ErrNotConfigured || cl.Usable() == services.ErrDisabled {
		return
	}
	_, err := services.Call(a.runCtx, cl, "", func(ctx context.Context) (bool, bool, error) {
		return true, true, a.pingClickService(ctx)
	})
	if err != nil {
		a.Log.Warn("time-of-click: the click service does not answer; wrapped links lead nowhere until it does", "err", err)
	}
}

// pingClickService asks the click service's health page.
func (a *Appliance) pingClickService(ctx context.Context) error {
	if a.clickAddr == nil {
		return services.ErrNotConfigured
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+a.clickAddr.String()+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("click service: %s", resp.Status)
	}
	return nil
}

// Clicks is show clicks.
func (a *Appliance) Clicks(ctx context.Context, q cli.ClickQuery) ([]cli.ClickRecord, error) {
	cs, err := a.db.Clicks(ctx, store.ClickQuery{MessageID: q.MessageID, URL: q.URL, Action: q.Action, Since: q.Since, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]cli.ClickRecord, 0, len(cs))
	for _, c := range cs {
		out = append(out, cli.ClickRecord{At: timeText(c.At), MessageID: c.MessageID, Rcpt: c.Rcpt, URL: c.URL, RiskThen: c.RiskThen,
			RiskNow: c.RiskNow, Action: c.Action, Evaluation: c.Evaluation, ClientIP: c.ClientIP, UserAgent: c.UserAgent, Scanner: c.Scanner})
	}
	return out, nil
}

// ClickTest is click test URL: the link wrapped as mail's links are, for a
// day, under the message ID "test".
func (a *Appliance) ClickTest(ctx context.Context, link string) (cli.Done, error) {
	s := a.Settings
	if s.Click.Listen == "" {
		return cli.Done{}, fmt.Errorf("the click service is not served: set click.listen (and click.base_url)")
	}
	n, ok := message.NormalizeLink(link, nil)
	if !ok || !strings.HasPrefix(n, "http://") && !strings.HasPrefix(n, "https://") {
		return cli.Done{}, fmt.Errorf("%q is not a web link", link)
	}
	w := a.clickWrapper()
	w.Mode, w.Lifetime = timeofclick.All, 24*time.Hour
	plan := w.Plan("test", nil, nil)
	wrapped, ok := plan.Wrap(message.ClickLink{URL: n, Raw: link, Where: "test"})
	if !ok {
		return cli.Done{}, fmt.Errorf("%s is not wrapped: its domain is in click.exempt_domains or it leads to the click service", n)
	}
	if err := a.db.Write(ctx, func(tx *store.Tx) error { return store.InsertClickLinks(tx, plan.Links) }); err != nil {
		return cli.Done{}, err
	}
	return cli.Done{OK: true, Message: wrapped}, nil
}

// ClickKeyRotate is click key rotate: a new key signs the tokens; the old
// ones verify theirs while their links live.
func (a *Appliance) ClickKeyRotate(ctx context.Context) (cli.Done, error) {
	if err := a.clickKeys.Rotate(a.Settings.Click.LinkLifetime); err != nil {
		return cli.Done{}, err
	}
	return cli.Done{OK: true, Message: fmt.Sprintf("a new key signs time-of-click's links; %d keys verify them (the older ones while their links live)", a.clickKeys.Count())}, nil
}
