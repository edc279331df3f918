package analysis

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// LocalLists matches what the message holds against the administrator's
// lists: file hashes (SHA-256 or SHA-1, attachments and archive members),
// URLs (a listed URL matches itself and everything below it) and domains
// (a listed domain matches its subdomains too). Approved entries are
// recorded in the trail; blocked ones are high-risk findings.
type LocalLists struct {
	BlockedHashes   []string
	ApprovedHashes  []string
	BlockedURLs     []string
	BlockedDomains  []string
	ApprovedDomains []string
	// Feed is the lists update bundle in use (nil: none); the
	// administrator's approved entries win over it.
	Feed *ListFeed
}

func (LocalLists) Name() string    { return "local-lists" }
func (LocalLists) Service() string { return "" }

func (l LocalLists) Run(ctx context.Context, m *Message) (Result, error) {
	if m.Extract == nil {
		return Result{Outcome: OutcomeOK, Detail: "nothing extracted to match"}, nil
	}
	var out Result
	var approved []string
	checkHash := func(where string, hashes ...string) {
		for _, h := range hashes {
			if listed(h, l.BlockedHashes) {
				out.Findings = append(out.Findings, Finding{Engine: "local-lists", Threat: "malware", Risk: RiskHigh,
					Name: "blocked-hash", Location: where, Detail: "file hash " + h + " is on the blocked list", Object: h})
				return
			}
			if listed(h, l.ApprovedHashes) {
				approved = append(approved, where+" (approved hash)")
				return
			}
		}
		for _, h := range hashes {
			if l.Feed.hash(h) {
				out.Findings = append(out.Findings, Finding{Engine: "local-lists", Threat: "malware", Risk: RiskHigh,
					Name: "feed-hash", Location: where, Detail: fmt.Sprintf("file hash %s is on the pattern lists (lists version %d)", h, l.Feed.Version()), Object: h})
				return
			}
		}
	}
	files := len(m.Members) // the count in the detail: files whose hashes were matched, not body texts
	for i := range m.Extract.Parts {
		p := &m.Extract.Parts[i]
		if p.Attachment {
			files++
			checkHash(partLocation(p), p.SHA256, p.SHA1)
		}
	}
	for _, mb := range m.Members {
		checkHash(partLocation(&mb.Part)+": "+mb.Member.Path, mb.Member.SHA256)
	}
	for _, u := range m.Extract.URLs {
		host := ""
		if pu, err := url.Parse(u.URL); err == nil {
			host = pu.Hostname()
		}
		switch {
		case matchDomain(host, l.ApprovedDomains) != "":
			approved = append(approved, u.URL+" (approved domain)")
		case matchURL(u.URL, l.BlockedURLs) != "":
			out.Findings = append(out.Findings, Finding{Engine: "local-lists", Threat: "malicious URL", Risk: RiskHigh,
				Name: "blocked-url", Location: "part " + u.Where, Detail: u.URL + " matches blocked URL " + matchURL(u.URL, l.BlockedURLs), Object: u.URL})
		case matchDomain(host, l.BlockedDomains) != "":
			out.Findings = append(out.Findings, Finding{Engine: "local-lists", Threat: "malicious URL", Risk: RiskHigh,
				Name: "blocked-domain", Location: "part " + u.Where, Detail: u.URL + " is in blocked domain " + matchDomain(host, l.BlockedDomains), Object: u.URL})
		case l.Feed.url(u.URL) != "":
			out.Findings = append(out.Findings, Finding{Engine: "local-lists", Threat: "malicious URL", Risk: RiskHigh,
				Name: "feed-url", Location: "part " + u.Where, Detail: fmt.Sprintf("%s matches %s on the pattern lists (lists version %d)", u.URL, l.Feed.url(u.URL), l.Feed.Version()), Object: u.URL})
		case l.Feed.domain(host) != "":
			out.Findings = append(out.Findings, Finding{Engine: "local-lists", Threat: "malicious URL", Risk: RiskHigh,
				Name: "feed-domain", Location: "part " + u.Where, Detail: fmt.Sprintf("%s is in domain %s on the pattern lists (lists version %d)", u.URL, l.Feed.domain(host), l.Feed.Version()), Object: u.URL})
		}
	}
	if len(approved) > 0 {
		out.Detail = strings.Join(approved, "; ")
	} else if len(out.Findings) == 0 {
		out.Detail = fmt.Sprintf("%d files and %d URLs checked", files, len(m.Extract.URLs))
	}
	return out, nil
}

func listed(h string, list []string) bool {
	for _, x := range list {
		if strings.EqualFold(h, x) {
			return true
		}
	}
	return false
}

func matchDomain(host string, domains []string) string {
	host = strings.ToLower(host)
	for _, d := range domains {
		d = strings.TrimPrefix(d, ".")
		if host == d || strings.HasSuffix(host, "."+d) {
			return d
		}
	}
	return ""
}

// matchURL: a listed URL matches itself and what lies below it (the same
// scheme and host, a path under its path).
func matchURL(u string, list []string) string {
	for _, x := range list {
		if u == x || strings.HasPrefix(u, strings.TrimSuffix(x, "/")+"/") || strings.HasPrefix(u, x+"?") {
			return x
		}
	}
	return ""
}

// Exempt is the object-level exception (DDEI's "object exceptions"): a
// finding about a file whose hash is approved, or about a link into an
// approved domain, does not count, whatever engine made it. It says why.
func (l LocalLists) Exempt(f Finding) (string, bool) {
	if f.Object == "" {
		return "", false
	}
	if listed(f.Object, l.ApprovedHashes) {
		return "file hash " + f.Object + " is approved", true
	}
	if pu, err := url.Parse(f.Object); err == nil && pu.Host != "" {
		if d := matchDomain(pu.Hostname(), l.ApprovedDomains); d != "" {
			return f.Object + " is in approved domain " + d, true
		}
	}
	return "", false
}
