package policy

import (
	"strings"

	"mailinspector/internal/store"
)

// Decision is what the policy makes of a report.
type Decision struct {
	State      string // store.StateQueued, StateQuarantined, StateDeleted, StateMonitored
	Action     string
	Reason     string
	Rule       string         // the policy and rule that decided
	Rewrite    *store.Rewrite // what delivery changes (pass and tag)
	Recipients []string       // deliver to these instead (change recipient)
	Bcc        []string       // and also to these
	Extra      []Outgoing     // messages to send along (notifications)
	// Strip delivers a copy without attachments (each replaced by a
	// notice) and keeps the original in quarantine.
	Strip bool
	// Links ("block" or "warn") sends every link of the message through
	// the appliance's link pages.
	Links string
}

// Group is some of a message's recipients and what is decided for them:
// recipients that fall under different exceptions or policies get
// different decisions.
type Group struct {
	Rcpts    []string
	Decision Decision
}

// Outgoing is a message the appliance sends itself.
type Outgoing struct {
	From string
	To   []string
	Body []byte
}

// Deliver is who a decision that queues the message delivers to: the
// recipients it names instead of to (change recipient), or to, and its
// Bcc, each once.
func (d Decision) Deliver(to []string) []string {
	if len(d.Recipients) > 0 {
		to = d.Recipients
	}
	return dedupe(append(append([]string(nil), to...), d.Bcc...))
}

// dedupe drops repeated addresses (case-insensitively), keeping order.
func dedupe(addrs []string) []string {
	seen := map[string]bool{}
	out := addrs[:0]
	for _, a := range addrs {
		if k := strings.ToLower(a); !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	return out
}
