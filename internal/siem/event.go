// Package siem sends the appliance's events to a SOC's collectors over
// syslog: email detections, every message's final state, time-of-click
// verdicts, deny-list changes and the audit log, formatted as CEF, LEEF or
// JSON inside RFC 5424 frames (octet-counted on TCP and TLS, RFC 6587 and
// RFC 5425). Each collector has its own queue on disk, so an outage loses
// nothing up to the queue's bound (the oldest records go first, counted).
package siem

import (
	"time"
)

// Event kinds, the names of siem.events and of each record's MSGID.
const (
	KindDetection = "detection" // a message with a risk or a threat
	KindTracking  = "tracking"  // a message reached its final state
	KindClick     = "click"     // a rewritten link was clicked and judged
	KindDenyList  = "denylist"  // an entry added to or removed from a block list
	KindAudit     = "audit"     // a change by an administrator or the system
)

// Kinds are all the event kinds, in the order the docs list them.
var Kinds = []string{KindDetection, KindTracking, KindClick, KindDenyList, KindAudit}

// Event is one record for the collectors. Fields hold the canonical names
// of the field table (fields.go); each format maps them to its own keys.
type Event struct {
	ID     string // unique; a collector can drop a record sent twice by it
	Kind   string
	Name   string // a human name: "Message quarantined", "Settings changed"
	At     time.Time
	Risk   string // none, unrated, low, medium or high: the severity
	Fields []Field
}

// Field is one canonical field and its value.
type Field struct {
	Name  string
	Value string
}

// Add appends a field when its value is not empty.
func (e *Event) Add(name, value string) {
	if value != "" {
		e.Fields = append(e.Fields, Field{name, value})
	}
}

// Severity is the 0–10 severity of CEF and LEEF: unrated and none 2, low
// 4, medium 6, high 8 (as DDEI rates them). An event without a risk (an
// audit record, a list change) is 3.
func Severity(risk string) int {
	switch risk {
	case "high":
		return 8
	case "medium":
		return 6
	case "low":
		return 4
	case "none", "unrated":
		return 2
	}
	return 3
}

// syslogSeverity maps Severity onto RFC 5424's scale (0 emergency … 7
// debug): warning for high, notice for medium and low, info below.
func syslogSeverity(sev int) int {
	switch {
	case sev >= 8:
		return 4
	case sev >= 4:
		return 5
	}
	return 6
}
