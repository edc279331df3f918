package appliance

import (
	"context"
	"encoding/hex"
	"path/filepath"
	"strings"

	"mailinspector/internal/cli"
	"mailinspector/internal/siem"
	"mailinspector/internal/store"
)

// The events of SIEM export are built here, from what the mail path and
// the command layer already hand over when they finish something; the
// exporter (internal/siem) formats and queues them off the mail path.

// openSIEM opens the exporter of siem.servers; nil when there is none.
func (a *Appliance) openSIEM() error {
	s := a.Settings
	var err error
	a.siem, err = siem.Open(filepath.Join(a.DataDir, "siem"), siem.Config{Targets: s.SIEM.Targets, CAFile: s.SIEM.CAFile,
		QueueBytes: s.SIEM.QueueBytes, Events: s.SIEM.Events,
		Product: siem.Product{Vendor: "Mail Inspector", Name: "Mail Inspector", Version: Version, Host: s.Hostname, Facility: s.SIEM.Facility}}, a.Log)
	return err
}

// messageEvent is an event about a message, with the fields every one of
// them has.
func messageEvent(kind, name string, m *store.Message) *siem.Event {
	e := &siem.Event{Kind: kind, Name: name, Risk: m.Risk}
	e.Add(siem.FieldMessage, m.ID)
	e.Add(siem.FieldHeaderID, m.MessageID)
	e.Add(siem.FieldSender, m.From)
	e.Add(siem.FieldRecipients, strings.Join(m.To, ","))
	e.Add(siem.FieldSubject, m.Subject)
	e.Add(siem.FieldClientIP, m.ClientIP)
	e.Add(siem.FieldRisk, m.Risk)
	e.Add(siem.FieldState, m.State)
	e.Add(siem.FieldAction, m.Action)
	e.Add(siem.FieldReason, m.Reason)
	return e
}

// trackingNames are the events' names for the final states.
var trackingNames = map[string]string{
	store.StateDelivered: "Message delivered", store.StateBounced: "Message bounced",
	store.StateQuarantined: "Message quarantined", store.StateDeleted: "Message deleted",
	store.StateMonitored: "Message monitored",
}

// decided is the runner's hook after a verdict is stored: a detection
// event when something was found, a tracking event when the message's way
// ends here (quarantined, deleted, monitored; delivery sends the others).
func (a *Appliance) decided(meta *store.Message, v *store.Verdict, attachments []string) {
	if a.siem == nil || meta.Kind == store.KindNotification || meta.Kind == store.KindDSN {
		return
	}
	m := *meta
	m.State, m.Risk, m.Action, m.Reason, m.Subject, m.MessageID = v.State, v.Risk, v.Action, v.Reason, v.Subject, v.MessageID
	if v.To != nil {
		m.To = v.To
	}
	var threats, hashes, urls []string
	seen := map[string]bool{}
	for _, f := range v.Findings {
		if f.Threat == "" {
			continue
		}
		t := f.Threat
		if f.Name != "" {
			t += ": " + f.Name
		}
		if !seen[t] {
			seen[t] = true
			threats = append(threats, t)
		}
		if o := f.Object; o != "" && !seen[o] {
			seen[o] = true
			if _, err := hex.DecodeString(o); err == nil && len(o) == 64 {
				hashes = append(hashes, o)
			} else {
				urls = append(urls, o)
			}
		}
	}
	if len(threats) > 0 || m.Risk == "low" || m.Risk == "medium" || m.Risk == "high" {
		e := messageEvent(siem.KindDetection, "Email threat detected", &m)
		e.Add(siem.FieldThreats, strings.Join(threats, ","))
		e.Add(siem.FieldFiles, strings.Join(attachments, ","))
		e.Add(siem.FieldHashes, strings.Join(hashes, ","))
		if len(urls) > 0 {
			e.Add(siem.FieldURL, urls[0])
		}
		a.siem.Emit(e)
	}
	if name, ok := trackingNames[m.State]; ok && m.State != store.StateDelivered && m.State != store.StateBounced {
		a.siem.Emit(messageEvent(siem.KindTracking, name, &m))
	}
}

// finished is delivery's and the quarantine's hook when a message reached
// a final state there.
func (a *Appliance) finished(m *store.Message, state, reason string) {
	if a.siem == nil || m.Kind == store.KindNotification || m.Kind == store.KindDSN || !a.siem.Wants(siem.KindTracking) {
		return
	}
	c := *m
	c.State = state
	if reason != "" {
		c.Reason = reason
	}
	name := trackingNames[state]
	if name == "" {
		name = "Message " + state
	}
	a.siem.Emit(messageEvent(siem.KindTracking, name, &c))
}

// finishedID is finished for a caller that has only the message's ID.
func (a *Appliance) finishedID(id, state, reason string) {
	if a.siem == nil || !a.siem.Wants(siem.KindTracking) {
		return
	}
	m, err := a.db.GetMessage(context.Background(), id)
	if err != nil {
		a.Log.Warn("siem: read message for its tracking event", "id", id, "err", err)
		return
	}
	a.finished(m, state, reason)
}

// blockLists are the list keys whose changes are deny-list events.
var blockLists = []string{"senders.blocked", "lists.blocked_hashes", "lists.blocked_urls", "lists.blocked_domains"}

// audited sends an audit record, and a deny-list event for a change of a
// block list.
func (a *Appliance) audited(r cli.AuditRecord) {
	if a.siem == nil {
		return
	}
	outcome := "success"
	if !r.OK {
		outcome = "failure"
	}
	e := &siem.Event{Kind: siem.KindAudit, Name: "Administrator action: " + r.Kind}
	e.Add(siem.FieldAccount, r.Who)
	e.Add(siem.FieldOrigin, r.Via)
	e.Add(siem.FieldCommand, r.Command)
	e.Add(siem.FieldOutcome, outcome)
	e.Add(siem.FieldReason, r.Detail)
	e.Add(siem.FieldBefore, r.Before)
	e.Add(siem.FieldAfter, r.After)
	a.siem.Emit(e)
	if !r.OK || !a.siem.Wants(siem.KindDenyList) {
		return
	}
	// A change of a block list, by list add or remove, a commit or a
	// rollback: the audit record's before and after say what it was.
	before, after := keyValues(r.Before), keyValues(r.After)
	for _, key := range blockLists {
		was, is := entries(before[key]), entries(after[key])
		for _, d := range []struct {
			change   string
			from, in map[string]bool
		}{{"added", is, was}, {"removed", was, is}} {
			for entry := range d.from {
				if d.in[entry] {
					continue
				}
				e := &siem.Event{Kind: siem.KindDenyList, Name: "Deny list entry " + d.change}
				e.Add(siem.FieldAccount, r.Who)
				e.Add(siem.FieldOrigin, r.Via)
				e.Add(siem.FieldList, key)
				e.Add(siem.FieldEntry, entry)
				e.Add(siem.FieldChange, d.change)
				a.siem.Emit(e)
			}
		}
	}
}

// keyValues reads an audit record's "key = value" lines.
func keyValues(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, " = "); ok {
			m[k] = v
		}
	}
	return m
}

// entries are a list value's entries.
func entries(v string) map[string]bool {
	m := map[string]bool{}
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			m[e] = true
		}
	}
	return m
}

// clickNames are the click events' names by action.
var clickNames = map[string]string{"allow": "Link clicked: allowed", "warn": "Link clicked: warned", "block": "Link clicked: blocked",
	"continue": "Link clicked: went on after a warning"}

// clicked is the click service's hook: a click event for each click.
func (a *Appliance) clicked(c store.Click) {
	if !a.siem.Wants(siem.KindClick) {
		return
	}
	e := &siem.Event{Kind: siem.KindClick, Name: clickNames[c.Action], Risk: c.RiskNow}
	e.Add(siem.FieldMessage, c.MessageID)
	e.Add(siem.FieldRecipients, c.Rcpt)
	e.Add(siem.FieldURL, c.URL)
	e.Add(siem.FieldRisk, c.RiskNow)
	e.Add(siem.FieldRiskThen, c.RiskThen)
	e.Add(siem.FieldAction, c.Action)
	e.Add(siem.FieldEvaluation, c.Evaluation)
	e.Add(siem.FieldClientIP, c.ClientIP)
	e.Add(siem.FieldUserAgent, c.UserAgent)
	e.Add(siem.FieldAutomated, c.Scanner)
	a.siem.Emit(e)
}
