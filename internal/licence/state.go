package licence

import (
	"fmt"
	"time"
)

// The states of a licence.
const (
	Unlicensed = "unlicensed" // no code, the trial over
	Trial      = "trial"      // no code yet, within the trial from the first start
	Active     = "active"
	Grace      = "grace"   // expired, within licence.grace_days
	Expired    = "expired" // past the grace
)

// State is where a licence stands and what that changes.
type State struct {
	Name    string
	Licence *Licence // nil: no code activated
	// Until is when the state ends by itself: the trial's end, the
	// expiry, the grace's end (zero for expired and unlicensed).
	Until time.Time
	// Updates says whether updates are installed; UpdatesStopped why not.
	Updates        bool
	UpdatesStopped string
	// Warning is what the consoles show on every page (empty: nothing to
	// say); Loud when something has stopped or is about to (unlicensed,
	// grace, expired), not for a trial or a reminder to renew.
	Warning string
	Loud    bool
}

// Evaluate is the state of l (nil: none) at now, given the appliance's
// first start and the trial and grace periods.
func Evaluate(l *Licence, firstStart, now time.Time, trial, grace time.Duration) State {
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }
	if l == nil {
		end := firstStart.Add(trial)
		if now.Before(end) {
			return State{Name: Trial, Until: end, Updates: true,
				Warning: fmt.Sprintf("Trial licence: ends on %s. Activate a licence (licence activate CODE) to keep receiving updates.", day(end))}
		}
		return State{Name: Unlicensed, Updates: false, UpdatesStopped: "no licence: the trial ended on " + day(end), Loud: true,
			Warning: "NO LICENCE: the trial ended on " + day(end) + ". Updates are stopped; mail flow and scanning go on with the last patterns."}
	}
	switch {
	case now.Before(l.Expires):
		s := State{Name: Active, Licence: l, Until: l.Expires, Updates: true}
		if l.Expires.Sub(now) < 30*24*time.Hour {
			s.Warning = "The licence expires on " + day(l.Expires) + ": renew it."
		}
		return s
	case now.Before(l.Expires.Add(grace)):
		end := l.Expires.Add(grace)
		return State{Name: Grace, Licence: l, Until: end, Updates: true, Loud: true,
			Warning: fmt.Sprintf("LICENCE EXPIRED on %s: grace period until %s, then updates stop.", day(l.Expires), day(end))}
	}
	return State{Name: Expired, Licence: l, Updates: false, Loud: true,
		UpdatesStopped: "licence expired on " + day(l.Expires),
		Warning:        "LICENCE EXPIRED on " + day(l.Expires) + ". Updates are stopped; mail flow and scanning go on with the last patterns. Renew the licence."}
}
