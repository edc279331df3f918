package settings

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Time-of-click (docs/time-of-click.md): which links of inbound mail are
// wrapped, for how long, and what a click does by the link's risk at that
// moment (DDEI's defaults).
func init() {
	keys = append(keys,
		Key{"click.rewrite", "safe-and-unrated", "Which links of inbound mail time-of-click wraps so that each click is judged again: off, unrated (links nothing rated), safe-and-unrated (also links rated safe, as by lists.approved_domains; DDEI's default) or all. A link judged malicious at delivery is never a click-through: it follows the policy.",
			enum(func(s *Settings) *string { return &s.Click.Rewrite }, "off", "unrated", "safe-and-unrated", "all")},
		Key{"click.link_lifetime", "720h", "How long a wrapped link leads anywhere (720h: 30 days); past it the click service shows that the link has expired.",
			dur(func(s *Settings) *time.Duration { return &s.Click.LinkLifetime }, time.Hour)},
		Key{"click.exempt_domains", "", "Comma-separated domains whose links (subdomains included) are never wrapped.",
			domains(func(s *Settings) *[]string { return &s.Click.ExemptDomains })},
		Key{"click.per_recipient_max", "20", "A message for up to this many recipients is wrapped in a copy for each (its own links, a delivery each), so that each click is known to be that recipient's; with more, one copy serves them all and a click is the message's. 0: always one copy.",
			func(s *Settings, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > 1000 {
					return fmt.Errorf("want a whole number from 0 to 1000")
				}
				s.Click.PerRecipientMax = n
				return nil
			}},
		Key{"click.signed", "leave", "Signed messages (S/MIME, PGP/MIME): leave them as they are (a rewrite would break the signature; the trail says so) or rewrite.",
			enum(func(s *Settings) *string { return &s.Click.Signed }, "leave", "rewrite")},
	)
	for _, risk := range []string{"high", "medium", "low", "unrated", "none"} {
		keys = append(keys, Key{"click.page." + risk, "", fmt.Sprintf("The text of the page a click on a link of risk %s shows when it is warned or blocked, instead of the built-in one: plain text with <a href>, <b> and <i> (anything else is removed when the page is shown). Empty: the built-in text.", risk),
			func(s *Settings, v string) error {
				if len(v) > 4096 || !utf8.ValidString(v) {
					return fmt.Errorf("want valid UTF-8 of at most 4096 bytes")
				}
				if s.Click.Page == nil {
					s.Click.Page = map[string]string{}
				}
				s.Click.Page[risk] = v
				return nil
			}})
	}
	for _, r := range []struct{ risk, def string }{{"high", "block"}, {"medium", "block"}, {"low", "warn"}, {"unrated", "warn"}, {"none", "allow"}} {
		keys = append(keys, Key{"click.action." + r.risk, r.def, fmt.Sprintf("What a click on a wrapped link does when the link's risk at that moment is %s: allow (on to the link), warn (a page with the link and a button that goes on) or block (the link as text only).", r.risk),
			func(s *Settings, v string) error {
				if v != "allow" && v != "warn" && v != "block" {
					return fmt.Errorf("want allow, warn or block")
				}
				if s.Click.Action == nil {
					s.Click.Action = map[string]string{}
				}
				s.Click.Action[r.risk] = v
				return nil
			}})
	}
}
