package cli

import (
	"context"
	"fmt"
	"strings"
)

// Licence is show licence.
type Licence struct {
	State          string `json:"state"` // unlicensed, trial, active, grace, expired
	ApplianceID    string `json:"appliance_id"`
	Edition        string `json:"edition,omitempty"`
	Seats          int    `json:"seats,omitempty"`
	Serial         string `json:"serial,omitempty"`
	Issued         string `json:"issued,omitempty"`
	Expires        string `json:"expires,omitempty"`
	Activated      string `json:"activated,omitempty"`
	Until          string `json:"until,omitempty"` // when the state ends by itself
	GraceDays      int    `json:"grace_days"`
	TrialStarted   string `json:"trial_started"`
	Updates        bool   `json:"updates"` // updates are installed
	UpdatesStopped string `json:"updates_stopped,omitempty"`
	Warning        string `json:"warning,omitempty"`
	Loud           bool   `json:"loud,omitempty"` // the warning says something stopped or is about to
	LastCheck      string `json:"last_check,omitempty"`
	LastSuccess    string `json:"last_success,omitempty"`
	LastError      string `json:"last_error,omitempty"`
	Hub            string `json:"hub,omitempty"` // what the hub said at the last check
}

var licenceCommands = []command{
	{[]string{"show", "licence"}, "", "the licence: state (unlicensed, trial, active, grace, expired), this appliance's id, edition, seats, expiry, the last online check, what the state changes", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.Licence(ctx) }, "", false, false},
	{[]string{"licence", "activate"}, "CODE", "activate a licence with the code the hub issued for this appliance's id (show licence)", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) { return b.LicenceActivate(ctx, a[0]) }, "licence", false, false},
	{[]string{"licence", "check"}, "", "check the licence with the hub now (details and renewal), as the schedule does", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.LicenceCheck(ctx) }, "licence", false, false},
}

func init() { commands = append(commands, licenceCommands...) }

func licenceText(l *Licence) string {
	var b strings.Builder
	switch {
	case l.Warning != "" && l.Loud:
		fmt.Fprintf(&b, "!! %s\n\n", term(l.Warning))
	case l.Warning != "":
		fmt.Fprintf(&b, "%s\n\n", term(l.Warning))
	}
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-13s %s\n", k, term(v))
		}
	}
	row("state", l.State)
	row("appliance id", l.ApplianceID)
	if l.Serial != "" {
		row("edition", l.Edition)
		row("seats", fmt.Sprint(l.Seats))
		row("serial", l.Serial)
		row("issued", l.Issued)
		row("expires", l.Expires)
		row("grace", fmt.Sprintf("%d days after expiry", l.GraceDays))
		row("activated", l.Activated)
	} else {
		row("trial from", l.TrialStarted)
	}
	row("until", l.Until)
	if l.Updates {
		row("updates", "installed")
	} else {
		row("updates", "STOPPED: "+l.UpdatesStopped)
	}
	row("mail, scans", "never stop, whatever the licence")
	last := l.LastCheck
	if last == "" {
		last = "never"
	}
	row("last check", last)
	row("last success", l.LastSuccess)
	row("check error", l.LastError)
	row("hub", l.Hub)
	return strings.TrimRight(b.String(), "\n")
}
