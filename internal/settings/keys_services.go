package settings

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"mailinspector/internal/services"
)

// serviceDoc says what each service does, for `settings describe`.
var serviceDoc = map[string]string{
	services.ERS:           "Email Reputation: DNSBL lookups of the sending IP (ers.zones)",
	services.TimeOfClick:   "time-of-click link checks",
	services.CSSS:          "known-good files (Certified Safe Software) from the hub",
	services.FileCensus:    "community prevalence of attachments from the hub",
	services.DomainCensus:  "community prevalence of domains and IPs from the hub",
	services.ML:            "predictive machine learning scores from the hub",
	services.ThreatConnect: "detail pages of indicators on the hub",
	services.WebInspection: "threat details of URLs from the hub",
	services.WebReputation: "URL ratings from the hub",
	services.SmartFeedback: "sending what the appliance saw to the hub",
	services.Updates:       "update checks against the hub",
	services.Licence:       "licence checks against the hub",
}

func init() {
	keys = append(keys,
		Key{"hub.url", "", "Base URL of the intelligence hub (mailinspector hub), e.g. https://hub.example.com:8443. Empty: every hub service is not-configured and its step is skipped.",
			func(s *Settings, v string) error {
				s.Hub.URL = strings.TrimRight(v, "/")
				if v == "" {
					return nil
				}
				if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("want an http or https URL")
				}
				return nil
			}},
		Key{"hub.key", "", "API key the hub gave this appliance (mailinspector hub keys add).",
			func(s *Settings, v string) error { s.Hub.Key = v; return nil }},
		Key{"hub.ca_file", "", "PEM file of the certificate authorities that sign an https hub's certificate (a self-hosted hub with a private CA). Empty: the system's.",
			func(s *Settings, v string) error { s.Hub.CAFile = v; return nil }},
		Key{"services.failures", "3", "Consecutive failures of a service that open its circuit breaker: its steps are then skipped at no cost until a probe finds it back.",
			intIn(func(s *Settings) *int { return &s.ServiceFailures }, 1, 100)},
		Key{"services.backoff", "10s", "How long an open breaker waits before one probe; doubles on each failed probe, up to 5 minutes.",
			dur(func(s *Settings) *time.Duration { return &s.ServiceBackoff }, 100*time.Millisecond)},
		Key{"services.cache_ttl", "1h", "How long a service's answer is reused.",
			dur(func(s *Settings) *time.Duration { return &s.ServiceTTL }, 0)},
		Key{"services.negative_ttl", "10m", "How long a \"nothing known\" answer is reused.",
			dur(func(s *Settings) *time.Duration { return &s.ServiceNegTTL }, 0)},
	)
	for _, name := range services.Cloud {
		name := name
		deadline := "2s"
		if name == services.SmartFeedback || name == services.Updates || name == services.Licence {
			deadline = "30s" // scheduled, not in the mail path
		}
		enabled, opt := "true", ". false: the service is disabled and its step skipped."
		if name == services.SmartFeedback {
			// Opt-in: nothing leaves the appliance unless asked.
			enabled, opt = "false", ". Opt-in: true sends the SHA-256 of files, domains and public IPs of messages with their risk (feedback.share_urls adds URLs); never bodies or people's addresses."
		}
		keys = append(keys,
			Key{"services." + name + ".enabled", enabled, "Use " + serviceDoc[name] + opt,
				func(s *Settings, v string) error {
					switch v {
					case "true", "false":
						svc(s, name).Enabled = v == "true"
						return nil
					}
					return fmt.Errorf("want true or false")
				}},
			Key{"services." + name + ".deadline", deadline, "Longest wait for one call to " + name + "; past it the step is skipped and the message goes on.",
				func(s *Settings, v string) error {
					d, err := time.ParseDuration(v)
					if err != nil || d < 10*time.Millisecond || d > 5*time.Minute {
						return fmt.Errorf("want a duration from 10ms to 5m")
					}
					svc(s, name).Deadline = d
					return nil
				}})
	}
	keys = append(keys,
		Key{"ers.zones", "", "Comma-separated DNSBL zones for Email Reputation (RFC 5782), e.g. zen.spamhaus.org, asked through dns.resolver. Empty: ERS is not-configured.",
			func(s *Settings, v string) error {
				s.ERS.Zones = nil
				for _, z := range splitList(v) {
					z = strings.ToLower(strings.TrimSuffix(z, "."))
					if strings.ContainsAny(z, " /:@") || !strings.Contains(z, ".") {
						return fmt.Errorf("%q is not a DNS zone", z)
					}
					s.ERS.Zones = append(s.ERS.Zones, z)
				}
				return nil
			}},
		Key{"ers.action", "reject", "What a listed sender gets: reject (550 5.7.1 at MAIL FROM), defer (450 4.7.1) or tag (accept; X-MailInspector-ERS header and a finding).",
			enum(func(s *Settings) *string { return &s.ERS.Action }, "reject", "defer", "tag")},
		Key{"ers.position", "edge", "Where the appliance stands: edge (the connecting IP is checked during the SMTP session) or non-edge (behind other MTAs: the last untrusted relay in Received is checked during analysis).",
			enum(func(s *Settings) *string { return &s.ERS.Position }, "edge", "non-edge")},
		Key{"ers.trusted_relays", "", "Comma-separated networks (CIDR) of your own MTAs in front of the appliance (non-edge): their Received lines are skipped to find the last untrusted relay. Private addresses are never checked.",
			nets(func(s *Settings) *[]netip.Prefix { return &s.ERS.TrustedRelays })},
		Key{"smtp.proxy_networks", "", "Comma-separated networks (CIDR) of load balancers that put a PROXY protocol v1 line (HAProxy) before SMTP; the client address it gives is then the one checked and logged. Empty: none.",
			nets(func(s *Settings) *[]netip.Prefix { return &s.SMTP.ProxyNetworks })},
		Key{"metrics.listen", "", "Address (host:port) to serve Prometheus metrics on (/metrics). Empty: off.",
			func(s *Settings, v string) error {
				s.Metrics.Listen = v
				if v == "" {
					return nil
				}
				return hostPort(v)
			}},
		Key{"schedules.feedback", "@every 5m", "When queued Smart Feedback records are sent to the hub (cron expression or @every DURATION).",
			schedule(func(s *Settings) *string { return &s.Schedules.Feedback })},
		Key{"schedules.updates", "@every 1h", "When the appliance asks the hub for updates.",
			schedule(func(s *Settings) *string { return &s.Schedules.Updates })},
		Key{"schedules.licence", "@every 12h", "When the appliance checks its licence with the hub.",
			schedule(func(s *Settings) *string { return &s.Schedules.Licence })},
	)
}

func svc(s *Settings, name string) *Service {
	if s.Services == nil {
		s.Services = map[string]*Service{}
	}
	if s.Services[name] == nil {
		s.Services[name] = &Service{Enabled: true, Deadline: 2 * time.Second}
	}
	return s.Services[name]
}

// ServiceFor returns the settings of a cloud service (defaults if unset).
func (s *Settings) ServiceFor(name string) Service { return *svc(s, name) }

func schedule(field func(*Settings) *string) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		*field(s) = v
		if _, err := cron.ParseStandard(v); err != nil {
			return fmt.Errorf("want a cron expression or @every DURATION: %w", err)
		}
		return nil
	}
}
