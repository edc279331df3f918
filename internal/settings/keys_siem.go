package settings

import (
	"fmt"
	"strings"

	"mailinspector/internal/siem"
)

// facilities are the syslog facilities siem.facility takes (RFC 5424 6.2.1).
var facilities = map[string]int{"user": 1, "daemon": 3, "auth": 4, "authpriv": 10,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23}

func init() {
	keys = append(keys,
		Key{"siem.servers", "", "Syslog collectors the appliance's events go to, comma-separated: udp://, tcp:// or tls://host:port, each with ?format=cef, leef or rfc5424-json (cef when not given), e.g. tls://siem.example.com:6514?format=leef. TCP and TLS frames are octet-counted (RFC 6587, RFC 5425). Each collector has its own queue on disk (siem.queue_bytes): an outage loses nothing up to that bound. Empty: no export.",
			func(s *Settings, v string) error {
				s.SIEM.Targets = nil
				seen := map[string]bool{}
				for _, e := range splitList(v) {
					t, err := siem.ParseTarget(e)
					if err != nil {
						return err
					}
					if seen[t.Name()] {
						return fmt.Errorf("%s is listed twice", t.Name())
					}
					seen[t.Name()] = true
					s.SIEM.Targets = append(s.SIEM.Targets, t)
				}
				return nil
			}},
		Key{"siem.ca_file", "", "PEM file of the CAs a tls:// collector's certificate must chain to (and name the host of siem.servers). Empty: the system's CAs.",
			func(s *Settings, v string) error { s.SIEM.CAFile = v; return nil }},
		Key{"siem.queue_bytes", "268435456", "Bound in bytes of each collector's queue on the data disk. Past it during an outage the oldest events are dropped and counted (mailinspector_siem_dropped_total, show status).",
			bytesIn(func(s *Settings) *int64 { return &s.SIEM.QueueBytes }, 1<<20, 1<<40)},
		Key{"siem.events", strings.Join(siem.Kinds, ","), "The kinds of events sent, comma-separated: detection (a message with a risk or a threat), tracking (every message's final state: delivered, bounced, quarantined, deleted, monitored, expired), click (a rewritten link clicked), denylist (an entry added to or removed from a block list) and audit (every change, by whom).",
			func(s *Settings, v string) error {
				s.SIEM.Events = nil
				for _, k := range splitList(v) {
					found := false
					for _, known := range siem.Kinds {
						found = found || k == known
					}
					if !found {
						return fmt.Errorf("%q: want some of %s", k, strings.Join(siem.Kinds, ", "))
					}
					s.SIEM.Events = append(s.SIEM.Events, k)
				}
				return nil
			}},
		Key{"siem.facility", "local0", "The syslog facility of the events: local0 … local7, user, daemon, auth or authpriv.",
			func(s *Settings, v string) error {
				f, ok := facilities[v]
				if !ok {
					return fmt.Errorf("want local0 … local7, user, daemon, auth or authpriv")
				}
				s.SIEM.Facility = f
				return nil
			}},
	)
}
