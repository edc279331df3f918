package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ClickRecord is one click on a wrapped link (show clicks).
type ClickRecord struct {
	At         string `json:"at"`
	MessageID  string `json:"message_id"`
	Rcpt       string `json:"rcpt,omitempty"`
	URL        string `json:"url"`
	RiskThen   string `json:"risk_then"`
	RiskNow    string `json:"risk_now"`
	Action     string `json:"action"`
	Evaluation string `json:"evaluation"`
	ClientIP   string `json:"client_ip"`
	UserAgent  string `json:"user_agent,omitempty"`
	Scanner    string `json:"scanner,omitempty"` // why it looks automated
}

// ClickQuery selects clicks (show clicks).
type ClickQuery struct {
	MessageID, URL, Action string
	Since                  time.Time
	Limit                  int
}

// ClickRisks are the risks a click page has a text for.
var ClickRisks = []string{"high", "medium", "low", "unrated", "none"}

var clickCommands = []command{
	{[]string{"click", "key", "rotate"}, "", "a new key signs time-of-click's tokens (click.key in the data directory); the old keys verify their links while they live", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.ClickKeyRotate(ctx) }, "settings", false, false},
	{[]string{"click", "pages", "export"}, "", "the block and warn pages' texts (click.page.*) as one JSON file, to keep or to take to another appliance", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) {
			vs, err := b.ShowSettings(ctx, "click.page.")
			if err != nil {
				return nil, err
			}
			pages := map[string]string{}
			for _, v := range vs {
				pages[strings.TrimPrefix(v.Key, "click.page.")] = v.Value
			}
			out, err := json.MarshalIndent(pages, "", "  ")
			return json.RawMessage(out), err
		}, "", false, false},
	{[]string{"click", "pages", "import"}, "", "put the pages' texts of a file click pages export made (standard input): every text checked, one commit", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) {
			var pages map[string]string
			if err := json.Unmarshal([]byte(InputOf(ctx)), &pages); err != nil {
				return nil, fmt.Errorf("%w: the pages come on standard input as click pages export writes them: %v", ErrUsage, err)
			}
			changes := map[string]string{}
			for risk, text := range pages {
				if !slices.Contains(ClickRisks, risk) {
					return nil, fmt.Errorf("%w: %q is no risk (%s)", ErrUsage, risk, strings.Join(ClickRisks, ", "))
				}
				changes["click.page."+risk] = text
			}
			if len(changes) == 0 {
				return nil, fmt.Errorf("%w: the file has no page", ErrUsage)
			}
			return b.CommitSettings(ctx, changes, 0)
		}, "settings", false, false},
	{[]string{"click", "test"}, "URL", "wrap URL as time-of-click wraps a link of mail (for a day), to see what a reader sees when clicking it", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) { return b.ClickTest(ctx, a[0]) }, "click", false, false},
	{[]string{"show", "clicks"}, "[message ID] [url PART] [action allow|warn|block|continue] [since 24h] [limit N]",
		"clicks on time-of-click's wrapped links, newest first: the link, its risk at delivery and now, what the click service did, the client", 0, -1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if len(a)%2 != 0 {
				return nil, fmt.Errorf("%w: show clicks takes FILTER VALUE pairs", ErrUsage)
			}
			var q ClickQuery
			for i := 0; i < len(a); i += 2 {
				v := a[i+1]
				switch strings.ToLower(a[i]) {
				case "message":
					q.MessageID = v
				case "url":
					q.URL = v
				case "action":
					q.Action = v
				case "since":
					t, err := when(v, time.Now())
					if err != nil {
						return nil, err
					}
					q.Since = t
				case "limit":
					n, err := number("limit", v, 10000)
					if err != nil {
						return nil, err
					}
					q.Limit = n
				default:
					return nil, fmt.Errorf("%w: show clicks filters: message, url, action, since, limit", ErrUsage)
				}
			}
			return b.Clicks(ctx, q)
		}, "", false, false},
}

func init() { commands = append(commands, clickCommands...) }

func clicksText(cs []ClickRecord) string {
	var rows [][]string
	for _, c := range cs {
		eval := c.Evaluation
		if c.Scanner != "" {
			eval += " (looks automated: " + c.Scanner + ")"
		}
		rows = append(rows, []string{c.At, c.MessageID, cut(c.URL, 60), c.RiskThen + " > " + c.RiskNow, c.Action, cut(c.ClientIP, 40), cut(eval, 60)})
	}
	return table("no click", []string{"AT", "MESSAGE", "URL", "RISK THEN > NOW", "ACTION", "CLIENT", "EVALUATION"}, rows)
}
