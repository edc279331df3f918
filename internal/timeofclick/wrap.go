// Package timeofclick is time-of-click protection: the links of inbound
// mail that looked safe or unrated at delivery are wrapped (an opaque
// token of the appliance's, kept in the database with the link), and each
// click is judged again at that moment — a link that turns bad after
// delivery is blocked when it is clicked. The click service never fetches
// the target, never redirects for a token it did not make, and logs every
// click.
package timeofclick

import (
	"net/url"
	"strings"
	"time"

	"mailinspector/internal/message"
	"mailinspector/internal/risk"
	"mailinspector/internal/store"
)

// Modes of click.rewrite.
const (
	Off            = "off"
	Unrated        = "unrated"
	SafeAndUnrated = "safe-and-unrated"
	All            = "all"
)

// maxLink bounds a wrapped link: under 990 characters it fits a line of
// any part.
const maxLink = 990

// Wrapper decides which links of a message are wrapped.
type Wrapper struct {
	Keys     *Keys // sign the tokens
	Mode     string
	Base     string // click.base_url, without a trailing slash
	Lifetime time.Duration
	Exempt   []string // domains never wrapped (subdomains too)
	Approved []string // lists.approved_domains: links rated safe
}

// Plan is the wrapping of one message: Wrap is given to
// message.RewriteClicks, Links are then the links it wrapped.
type Plan struct {
	w         *Wrapper
	messageID string
	rcpt      string
	risks     map[string]string // URL -> its highest finding's risk at delivery
	now       time.Time
	Links     []store.ClickLink
}

// Plan starts the wrapping of message id for its recipients, with the
// findings of its analysis (the risk of each link at delivery).
func (w *Wrapper) Plan(id string, rcpts []string, findings []store.Finding) *Plan {
	p := &Plan{w: w, messageID: id, risks: map[string]string{}, now: time.Now()}
	if len(rcpts) == 1 {
		p.rcpt = rcpts[0] // a copy for one recipient: a click is theirs
	}
	for _, f := range findings {
		if f.Object != "" && risk.Rank(f.Risk) >= risk.Rank(p.risks[f.Object]) {
			p.risks[f.Object] = f.Risk
		}
	}
	return p
}

// Wrap is the wrapped form of a link, or false to leave it.
func (p *Plan) Wrap(l message.ClickLink) (string, bool) {
	host := ""
	if u, err := url.Parse(l.URL); err == nil {
		host = strings.ToLower(u.Hostname())
	}
	if host == "" || inDomains(host, p.w.Exempt) || p.own(l.URL) {
		return "", false
	}
	at := p.risks[l.URL]
	for _, in := range message.InnerURLs(l.URL) { // another vendor's wrapper: what it leads to counts
		if risk.Rank(p.risks[in]) > risk.Rank(at) {
			at = p.risks[in]
		}
	}
	switch {
	case at == "" && inDomains(host, p.w.Approved):
		at = risk.None // rated safe
		if p.w.Mode == Unrated {
			return "", false
		}
	case at == "":
		at = risk.Unrated // no rating
	case p.w.Mode != All:
		return "", false // rated: the policy decided on it
	}
	tok := p.w.Keys.NewToken()
	link := p.w.Base + "/c/" + tok
	if len(link) > maxLink {
		return "", false
	}
	p.Links = append(p.Links, store.ClickLink{Token: tok, MessageID: p.messageID, Rcpt: p.rcpt, URL: l.URL, Raw: l.Raw, Risk: at,
		Created: p.now, Expires: p.now.Add(p.w.Lifetime)})
	return link, true
}

// own says whether a link already leads to the click service (a message
// wrapped before, forwarded back in).
func (p *Plan) own(link string) bool {
	return p.w.Base != "" && strings.HasPrefix(strings.ToLower(link), strings.ToLower(p.w.Base)+"/c/")
}

// Token is the token of a link this appliance wrapped; false for any
// other link.
func (w *Wrapper) Token(link string) (string, bool) {
	prefix := strings.ToLower(w.Base) + "/c/"
	if w.Base == "" || !strings.HasPrefix(strings.ToLower(link), prefix) {
		return "", false
	}
	tok := link[len(prefix):]
	if i := strings.IndexAny(tok, "/?#"); i >= 0 {
		tok = tok[:i]
	}
	return tok, tok != ""
}

func inDomains(host string, domains []string) bool {
	for _, d := range domains {
		d = strings.ToLower(strings.TrimPrefix(d, "."))
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}
