package settings

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"mailinspector/internal/message"
	"mailinspector/internal/siem"
)

// Settings is the typed, validated form of the settings file. Every field is
// declared in the keys table below, with its default and its meaning; that
// table is the one place `settings describe` and the docs come from.
type Settings struct {
	Hostname string
	Mode     string // "mta" or "bcc"

	SMTP struct {
		Listen            string
		MaxConnections    int
		MaxConnectionsIP  int
		MaxRecipients     int
		MaxLineLength     int
		CommandTimeout    time.Duration
		DataTimeout       time.Duration
		TLSCert           string
		TLSKey            string
		AllowNetworks     []netip.Prefix
		DenyNetworks      []netip.Prefix
		TrustedNetworks   []netip.Prefix
		AcceptedDomains   []string
		BareLF            string // "reject" or "normalize"
		RequireHeloDomain bool
		ProxyNetworks     []netip.Prefix
	}

	Limits struct {
		MaxMessageBytes int64
		MaxHeaderBytes  int
		DiskHighWater   int // percent
	}

	Analysis struct {
		Workers    int
		StallAfter time.Duration
	}

	Senders struct {
		Blocked  []string
		Approved []string
	}

	Policy struct {
		SubjectTag     string
		NotifyTemplate string
		// The default policy's actions (without policies.conf).
		High, Unscannable, Medium, Unrated string
	}

	// Click is the click service and time-of-click (keys_click.go).
	Click struct {
		Listen  string
		BaseURL string
		// Rewrite: off, unrated, safe-and-unrated, all.
		Rewrite       string
		LinkLifetime  time.Duration
		ExemptDomains []string
		// Action is what a click does by the link's risk now (high,
		// medium, low, unrated, none): allow, warn or block.
		Action map[string]string
		// Signed: leave (signed messages are not rewritten) or rewrite.
		Signed string
		// Page is the administrator's text of the block and warn pages
		// by risk ("": the built-in text); <a>, <b> and <i> are kept.
		Page map[string]string
		// PerRecipientMax: a message for up to this many recipients is
		// wrapped in a copy each, so that a click is a recipient's.
		PerRecipientMax int
	}

	Exceptions struct {
		Senders    []string
		Recipients []string
	}

	Quarantine struct {
		ExpireAfter    time.Duration
		ExpireSchedule string
	}

	Retention struct {
		Messages time.Duration
		Audit    time.Duration
		Schedule string
	}

	Lists struct {
		BlockedHashes   []string
		ApprovedHashes  []string
		BlockedURLs     []string
		BlockedDomains  []string
		ApprovedDomains []string
	}

	Delivery struct {
		Relay          []string // smarthosts in priority order; nil with MX false = Maildir
		MX             bool
		TLS            string // "opportunistic", "required", "none"
		Workers        int
		RetryIntervals []time.Duration
		QueueLifetime  time.Duration
		OnDelete       string // queue.delete: bounce | drop
		ConnectTimeout time.Duration
		CommandTimeout time.Duration
	}

	Engine struct {
		Clamd         string
		ClamdDatabase string
		ClamdTimeout  time.Duration
		ClamdArchives string
		ClamdOnError  string // pass, quarantine or defer
		ClamdDeferFor time.Duration
	}

	Archive struct {
		Passwords        []string
		MaxDepth         int
		MaxMembers       int
		MaxExpandedBytes int64
		MaxRatio         int
		MaxInMemory      int64
	}

	DNS struct {
		Resolver string
	}

	Debug struct {
		PprofListen string
	}

	Runtime struct {
		GCPercent   int
		MemoryLimit int64
	}

	// Hub, Services, ERS, Metrics and Schedules: the cloud services and
	// their contract (keys_services.go).
	Hub struct {
		URL    string
		Key    string
		CAFile string
	}
	Services        map[string]*Service
	ServiceFailures int
	ServiceBackoff  time.Duration
	ServiceTTL      time.Duration
	ServiceNegTTL   time.Duration
	ERS             struct {
		Zones         []string
		Action        string // reject, defer, tag
		Position      string // edge, non-edge
		TrustedRelays []netip.Prefix
	}
	Metrics struct {
		Listen string
	}
	// Web is the web console (keys_web.go).
	Web struct {
		Listen          string
		TLSCert, TLSKey string
		SessionIdle     time.Duration
	}
	// SIEM is syslog export to a SOC (keys_siem.go).
	SIEM struct {
		Targets    []siem.Target
		CAFile     string
		QueueBytes int64
		Events     []string
		Facility   int
	}
	Schedules struct {
		Feedback string
		Updates  string
		Licence  string
	}
	// Feedback is Smart Feedback's outbox and what it shares
	// (keys_updates.go).
	Feedback struct {
		ShareURLs bool
		OutboxMax int
	}
	// Licence is the licence's periods and issuer (keys_updates.go).
	Licence struct {
		IssuerKey string
		TrialDays int
		GraceDays int
	}
	// Updates are the signed update bundles (keys_updates.go).
	Updates struct {
		TrustedKeys []string
		RootKeyring string
		SeedDir     string
		Keep        int
	}
	// Sandbox is the virtual analyzer (keys_sandbox.go).
	Sandbox struct {
		Libvirt           string
		Image             string
		DomainTemplate    string
		Instances         int
		AgentBase         netip.AddrPort
		FileTypes         []string
		Submit            string // "unrated", "suspicious" or "highly-suspicious"
		ForcedTypes       []string
		SubmissionTimeout time.Duration
		RunTime           time.Duration
		CallTimeout       time.Duration
		OnTimeout         string // "quarantine" or "deliver"
		OnError           string
		IsolationCheck    []string
		BaseImage         string
		StoragePool       string
		Teardown          string     // "destroy" or "pause"
		FakeNet           netip.Addr // invalid: no fake internet here
		FakeNetSMTPPort   int
		URLs              string // "off", "suspicious" or "unrated"
		Proxy             string // "off", "direct" or an upstream proxy's http:// URL
		ProxyPort         int
		ProxyAllow        []netip.Prefix
		ProxySamples      bool
		Screenshot        bool
	}
}

// Service is the per-service part of the settings.
type Service struct {
	Enabled  bool
	Deadline time.Duration
}

// Key declares one setting.
type Key struct {
	Name    string
	Default string
	Doc     string
	set     func(s *Settings, v string) error
}

// Keys returns the declared keys in file order.
func Keys() []Key { return append([]Key(nil), keys...) }

// Lookup is the key of that name, as settings describe lists it.
func Lookup(name string) (Key, bool) { return lookupKey(name) }

// Check validates one value of one key alone (a list's entry, as an import
// checks each line before it commits them together).
func Check(name, value string) error {
	k, ok := lookupKey(name)
	if !ok {
		return fmt.Errorf("unknown key %q", name)
	}
	return k.set(&Settings{}, value)
}

func lookupKey(name string) (Key, bool) {
	for _, k := range keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

var keys = []Key{
	{"hostname", "", "Name the appliance gives in its SMTP banner, Received headers and DSNs. Empty: the machine's host name.",
		func(s *Settings, v string) error { s.Hostname = v; return nil }},
	{"mode", "mta", "Deployment mode: mta (in the mail path: analyse, then deliver, tag, quarantine or drop) or bcc (a copy arrives: analyse, record as monitored, discard the copy).",
		enum(func(s *Settings) *string { return &s.Mode }, "mta", "bcc")},

	{"smtp.listen", "127.0.0.1:2525", "Address (host:port) the SMTP server listens on.",
		func(s *Settings, v string) error { s.SMTP.Listen = v; return hostPort(v) }},
	{"smtp.max_connections", "200", "Concurrent SMTP connections at most; more get 421 4.7.0 at connect.",
		intIn(func(s *Settings) *int { return &s.SMTP.MaxConnections }, 1, 100000)},
	{"smtp.max_connections_per_ip", "50", "Concurrent SMTP connections at most from one client IP (Postfix's default too); more get 421 4.7.0 at connect.",
		intIn(func(s *Settings) *int { return &s.SMTP.MaxConnectionsIP }, 1, 100000)},
	{"smtp.max_recipients", "100", "Recipients per message at most; more get 452 4.5.3.",
		intIn(func(s *Settings) *int { return &s.SMTP.MaxRecipients }, 1, 100000)},
	{"smtp.max_line_length", "2000", "Longest command or message line accepted, in bytes (RFC 5321 asks for 1000; a little slack keeps broken senders working).",
		intIn(func(s *Settings) *int { return &s.SMTP.MaxLineLength }, 1000, 1<<20)},
	{"smtp.command_timeout", "5m", "Idle time allowed between SMTP commands before 421.",
		dur(func(s *Settings) *time.Duration { return &s.SMTP.CommandTimeout }, time.Second)},
	{"smtp.data_timeout", "3m", "Idle time allowed between two reads of message data (RFC 5321 4.5.3.2 suggests 3 minutes).",
		dur(func(s *Settings) *time.Duration { return &s.SMTP.DataTimeout }, time.Second)},
	{"smtp.tls_cert", "", "PEM certificate file for STARTTLS. Empty: a self-signed certificate made on first start (tls/ in the data directory).",
		func(s *Settings, v string) error { s.SMTP.TLSCert = v; return nil }},
	{"smtp.tls_key", "", "PEM private key file for smtp.tls_cert.",
		func(s *Settings, v string) error { s.SMTP.TLSKey = v; return nil }},
	{"smtp.allow_networks", "", "Comma-separated networks (CIDR) allowed to connect. Empty: every network not denied.",
		nets(func(s *Settings) *[]netip.Prefix { return &s.SMTP.AllowNetworks })},
	{"smtp.deny_networks", "", "Comma-separated networks (CIDR) refused at connect with 554 5.7.1.",
		nets(func(s *Settings) *[]netip.Prefix { return &s.SMTP.DenyNetworks })},
	{"smtp.trusted_networks", "127.0.0.0/8,::1/128", "Comma-separated networks (CIDR) that may relay to any domain.",
		nets(func(s *Settings) *[]netip.Prefix { return &s.SMTP.TrustedNetworks })},
	{"smtp.accepted_domains", "", "Comma-separated recipient domains accepted from any client; a leading dot also accepts subdomains (.example.com). Other domains get 550 5.7.1 unless the client is trusted.",
		domains(func(s *Settings) *[]string { return &s.SMTP.AcceptedDomains })},
	{"smtp.bare_lf", "reject", "Message data with a bare LF or bare CR (SMTP smuggling, RFC 5321 2.3.8): reject (550 5.5.2) or normalize (turn it into CRLF).",
		enum(func(s *Settings) *string { return &s.SMTP.BareLF }, "reject", "normalize")},
	{"smtp.require_helo_domain", "false", "Refuse a HELO/EHLO argument that is neither a domain nor an address literal (501 5.5.2).",
		boolean(func(s *Settings) *bool { return &s.SMTP.RequireHeloDomain })},

	{"limits.max_message_bytes", "52428800", "Largest message accepted, in bytes; larger ones get 552 5.3.4 (the limit is announced with SIZE).",
		func(s *Settings, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1024 || n > 1<<32 {
				return fmt.Errorf("want a byte count from 1024 to %d", int64(1)<<32)
			}
			s.Limits.MaxMessageBytes = n
			return nil
		}},

	{"limits.max_header_bytes", "262144", "Largest header block accepted, in bytes; a larger one is refused with 552 5.3.4 rather than analysed blind. The MIME walk reads header blocks up to this size too (and parts' own headers).",
		intIn(func(s *Settings) *int { return &s.Limits.MaxHeaderBytes }, 16*1024, 16<<20)},
	{"limits.disk_high_water", "90", "Percent of the data disk in use above which new mail is answered 452 4.3.1 (insufficient storage; the sender tries again later) and show status, the log and the metric mailinspector_disk_full say so.",
		intIn(func(s *Settings) *int { return &s.Limits.DiskHighWater }, 1, 99)},

	{"analysis.workers", "0", "Messages analysed at once. 0: twice the number of CPUs, four times when a hub or clamd is configured (their calls wait on another process, not the CPU).",
		func(s *Settings, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 1024 {
				return fmt.Errorf("want 0 to 1024")
			}
			s.Analysis.Workers = n
			return nil
		}},

	{"analysis.stall_after", "10m", "With work waiting, how long analysis or delivery may go without finishing anything before the daemon counts as stuck: it then stops its systemd watchdog pings, and systemd restarts it (every message resumes from the database).",
		dur(func(s *Settings) *time.Duration { return &s.Analysis.StallAfter }, 100*time.Millisecond)},

	{"senders.blocked", "", "Comma-separated blocked senders: addresses (user@example.com), domains (example.com) or subdomain patterns (.example.com). A match is a high-risk finding.",
		addrList(func(s *Settings) *[]string { return &s.Senders.Blocked })},
	{"senders.approved", "", "Comma-separated approved senders, same forms as senders.blocked. A match is recorded; blocked wins over approved.",
		addrList(func(s *Settings) *[]string { return &s.Senders.Approved })},
	{"policy.subject_tag", "[Suspicious]", "Put before the Subject of messages the policy passes and tags (medium risk by default). Empty: the Subject stays as it is; the X-MailInspector-Risk and X-MailInspector-Threats headers are added either way.",
		func(s *Settings, v string) error { s.Policy.SubjectTag = v; return nil }},
	{"policy.notify_template", "", "Text of the notify action's message; tokens %ACTION%, %RULE%, %RISK%, %THREATS%, %SENDER%, %RECIPIENTS%, %SUBJECT%, %ATTACHMENTS%, %MESSAGE_ID% are replaced; \\n starts a new line. Empty: the built-in text.",
		func(s *Settings, v string) error {
			s.Policy.NotifyTemplate = strings.ReplaceAll(v, `\n`, "\n")
			return nil
		}},
	{"policy.high", "quarantine", "Actions of the default policy (without policies.conf) for a high-risk message, as a rule in policies.conf writes them (docs/policies.md), e.g. \"quarantine notify soc@example.com\".",
		func(s *Settings, v string) error { s.Policy.High = v; return nil }},
	{"policy.unscannable", "quarantine", "Actions of the default policy for a message with content that could not be judged and is not high risk: a part the walk could not look at, an archive that stayed locked or unopened, attachments the pattern engine could not scan. quarantine holds it with the reason unscannable (releasable).",
		func(s *Settings, v string) error { s.Policy.Unscannable = v; return nil }},
	{"policy.medium", "tag", "Actions of the default policy for a medium-risk message.",
		func(s *Settings, v string) error { s.Policy.Medium = v; return nil }},
	{"policy.unrated", "tag", "Actions of the default policy for an unrated message that carries nothing unscannable (a text the pattern engine could not scan). tag delivers it with X-MailInspector-Risk: unrated and the subject tag, so that it never passes as clean; deliver lets it through unmarked.",
		func(s *Settings, v string) error { s.Policy.Unrated = v; return nil }},
	{"click.listen", "", "Address (host:port) of the click service: time-of-click's wrapped links and the pages of the block-links and warn-links actions, HTTPS (the console's certificate) and HTTP on the one address. Empty: not served (no link is wrapped).",
		func(s *Settings, v string) error {
			s.Click.Listen = v
			if v == "" {
				return nil
			}
			return hostPort(v)
		}},
	{"click.base_url", "", "How recipients reach click.listen, e.g. https://mail-inspector.example.com. Empty: http://HOSTNAME:8025.",
		func(s *Settings, v string) error {
			s.Click.BaseURL = v
			if v == "" {
				return nil
			}
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("want an http or https URL")
			}
			return nil
		}},
	{"exceptions.senders", "", "Message-level exceptions: mail from these senders (addresses, domains, .subdomains; envelope sender) is analysed and recorded but always delivered, whatever the policies say.",
		addrList(func(s *Settings) *[]string { return &s.Exceptions.Senders })},
	{"exceptions.recipients", "", "Message-level exceptions: mail to these recipients (same forms; any recipient matching) is analysed and recorded but always delivered.",
		addrList(func(s *Settings) *[]string { return &s.Exceptions.Recipients })},
	{"quarantine.expire_after", "720h", "Quarantined messages older than this are deleted by the expiry schedule (720h: 30 days).",
		dur(func(s *Settings) *time.Duration { return &s.Quarantine.ExpireAfter }, time.Second)},
	{"quarantine.expire_schedule", "@every 1h", "When quarantine expiry runs: a cron expression (\"0 3 * * *\") or @every DURATION.",
		func(s *Settings, v string) error {
			s.Quarantine.ExpireSchedule = v
			if _, err := cron.ParseStandard(v); err != nil {
				return fmt.Errorf("want a cron expression or @every DURATION: %w", err)
			}
			return nil
		}},
	{"retention.messages", "2160h", "Finished messages (delivered, bounced, deleted, monitored) received longer ago than this are deleted with their trail, findings and recipients by the retention schedule (2160h: 90 days). Quarantined messages first follow quarantine.expire_after.",
		dur(func(s *Settings) *time.Duration { return &s.Retention.Messages }, time.Hour)},
	{"retention.audit", "8760h", "Audit log entries older than this are deleted by the retention schedule; at least 8760h (a year), which the database itself enforces.",
		dur(func(s *Settings) *time.Duration { return &s.Retention.Audit }, 8760*time.Hour)},
	{"retention.schedule", "@every 1h", "When the retention purge runs: a cron expression (\"30 3 * * *\") or @every DURATION. It deletes in batches, so the mail path keeps writing meanwhile.",
		func(s *Settings, v string) error {
			s.Retention.Schedule = v
			if _, err := cron.ParseStandard(v); err != nil {
				return fmt.Errorf("want a cron expression or @every DURATION: %w", err)
			}
			return nil
		}},
	{"lists.blocked_hashes", "", "Comma-separated SHA-256 or SHA-1 hashes of files (attachments and archive members) that are high-risk findings.",
		hashList(func(s *Settings) *[]string { return &s.Lists.BlockedHashes })},
	{"lists.approved_hashes", "", "Comma-separated SHA-256 or SHA-1 hashes of files known to be good; a match is recorded in the trail.",
		hashList(func(s *Settings) *[]string { return &s.Lists.ApprovedHashes })},
	{"lists.blocked_urls", "", "Comma-separated URLs that are high-risk findings, with everything below them (normalised as links in mail are).",
		urlList(func(s *Settings) *[]string { return &s.Lists.BlockedURLs })},
	{"lists.blocked_domains", "", "Comma-separated domains whose links (subdomains included) are high-risk findings.",
		domains(func(s *Settings) *[]string { return &s.Lists.BlockedDomains })},
	{"lists.approved_domains", "", "Comma-separated domains whose links are trusted; approved wins over blocked.",
		domains(func(s *Settings) *[]string { return &s.Lists.ApprovedDomains })},

	{"delivery.relay", "", "Where MTA mode delivers: comma-separated smarthosts (host:port) tried in order, or mx for MX routing. Empty: a Maildir per recipient under maildir/ in the data directory.",
		func(s *Settings, v string) error {
			s.Delivery.Relay, s.Delivery.MX = nil, false
			v = strings.TrimSpace(v)
			if v == "" {
				return nil
			}
			if strings.EqualFold(v, "mx") {
				s.Delivery.MX = true
				return nil
			}
			for _, h := range splitList(v) {
				if err := hostPort(h); err != nil {
					return err
				}
				s.Delivery.Relay = append(s.Delivery.Relay, h)
			}
			return nil
		}},
	{"delivery.tls", "opportunistic", "TLS to the downstream: opportunistic (STARTTLS when offered, certificate not checked, RFC 7435), required (STARTTLS with a valid certificate, else deferred) or none.",
		enum(func(s *Settings) *string { return &s.Delivery.TLS }, "opportunistic", "required", "none")},
	{"delivery.workers", "16", "Deliveries in progress at once.",
		intIn(func(s *Settings) *int { return &s.Delivery.Workers }, 1, 1000)},
	{"delivery.retry_intervals", "7m30s,15m,30m,1h,2h,4h,8h,16h", "Waits between delivery attempts after a temporary failure; the last one repeats until delivery.queue_lifetime. Each wait gets up to 5% jitter.",
		func(s *Settings, v string) error {
			s.Delivery.RetryIntervals = nil
			for _, p := range splitList(v) {
				d, err := time.ParseDuration(p)
				if err != nil || d < 100*time.Millisecond {
					return fmt.Errorf("want durations of at least 100ms, like 7m30s,15m,1h")
				}
				s.Delivery.RetryIntervals = append(s.Delivery.RetryIntervals, d)
			}
			if len(s.Delivery.RetryIntervals) == 0 {
				return fmt.Errorf("want at least one duration")
			}
			return nil
		}},
	{"delivery.queue_lifetime", "120h", "How long a message may wait for delivery before it bounces with a DSN to its sender.",
		dur(func(s *Settings) *time.Duration { return &s.Delivery.QueueLifetime }, time.Second)},
	{"queue.delete", "bounce", "What queue delete ID does to the recipients still waiting: bounce (they are marked bounced and the sender gets a DSN) or drop (marked bounced, no DSN).",
		enum(func(s *Settings) *string { return &s.Delivery.OnDelete }, "bounce", "drop")},
	{"delivery.connect_timeout", "30s", "Deadline to connect to a downstream and read its greeting.",
		dur(func(s *Settings) *time.Duration { return &s.Delivery.ConnectTimeout }, 100*time.Millisecond)},
	{"delivery.command_timeout", "5m", "Deadline for each downstream SMTP command (RFC 5321 4.5.3.2 suggests 5 minutes).",
		dur(func(s *Settings) *time.Duration { return &s.Delivery.CommandTimeout }, 100*time.Millisecond)},

	{"dns.resolver", "", "DNS server (host:port) for MX routing and, later, reputation lookups; the appliance runs a local caching resolver for this. Empty: the system's resolver (/etc/resolv.conf).",
		func(s *Settings, v string) error {
			s.DNS.Resolver = v
			if v == "" {
				return nil
			}
			return hostPort(v)
		}},
	{"engine.clamd", "", "ClamAV clamd for the pattern engine: unix:/path/to/clamd.ctl or host:port. Empty: not configured.",
		func(s *Settings, v string) error {
			s.Engine.Clamd = v
			if v == "" || strings.HasPrefix(v, "unix:/") {
				return nil
			}
			return hostPort(v)
		}},
	{"archive.passwords", "", "Comma-separated passwords tried on encrypted archives after the ones the message text offers (\"password: …\"). An archive none opens is unscannable.",
		func(s *Settings, v string) error { s.Archive.Passwords = splitList(v); return nil }},
	{"archive.max_depth", "5", "Archives nested deeper than this are not opened (unscannable).",
		intIn(func(s *Settings) *int { return &s.Archive.MaxDepth }, 1, 20)},
	{"archive.max_members", "2000", "Files in one archive, nested ones included, past which the rest is unscannable.",
		intIn(func(s *Settings) *int { return &s.Archive.MaxMembers }, 1, 100000)},
	{"archive.max_expanded_bytes", "268435456", "Bytes one archive may expand to, nested ones included (zip bombs end here).",
		bytesIn(func(s *Settings) *int64 { return &s.Archive.MaxExpandedBytes }, 1<<20, 1<<34)},
	{"archive.max_ratio", "200", "Largest expansion of a compressed file over its compressed size (past 1 MB expanded).",
		intIn(func(s *Settings) *int { return &s.Archive.MaxRatio }, 2, 100000)},
	{"archive.max_in_memory", "33554432", "Largest archive held in memory to be opened (per message being analysed); larger ones are unscannable.",
		bytesIn(func(s *Settings) *int64 { return &s.Archive.MaxInMemory }, 1<<20, 1<<30)},
	{"engine.clamd_archives", "whole", "How archive attachments go to clamd. whole: each archive as one file, opened by clamd (its ScanArchive, on by default), with the files we decrypted with a password sent on their own, and each file scanned on its own only when clamd finds something, to say which. members: every file of every archive sent on its own, one clamd scan per file (for a clamd with ScanArchive off).",
		enum(func(s *Settings) *string { return &s.Engine.ClamdArchives }, "whole", "members")},
	{"engine.clamd_on_error", "pass", "When clamd is configured but cannot scan a message (down, hung, refusing): pass (the message goes on unrated and the policy decides; the default policy holds attachments as unscannable and tags texts), quarantine (quarantined, reason unscannable, whatever the policies say) or defer (held in the queue and analysed again, sooner at first, for up to engine.clamd_defer_for; then quarantined).",
		enum(func(s *Settings) *string { return &s.Engine.ClamdOnError }, "pass", "quarantine", "defer")},
	{"engine.clamd_defer_for", "30m", "With engine.clamd_on_error=defer, how long a message waits for clamd to come back before it is quarantined.",
		dur(func(s *Settings) *time.Duration { return &s.Engine.ClamdDeferFor }, time.Second)},
	{"engine.clamd_timeout", "30s", "Longest wait for clamd on one message; past it the pattern-engine scan is skipped (the trail says so) and the message goes on.",
		dur(func(s *Settings) *time.Duration { return &s.Engine.ClamdTimeout }, 100*time.Millisecond)},
}

func init() {
	keys = append(keys,
		Key{"runtime.gc_percent", "400", "How far the daemon's heap may grow over the data it holds before Go's garbage collector runs again, in percent (Go's GOGC; Go's own default is 100). 400 spends memory to save CPU (docs/performance.md has what it bought under the load harness). runtime.memory_limit keeps the growth bounded. The GOGC environment variable, when set, wins.",
			intIn(func(s *Settings) *int { return &s.Runtime.GCPercent }, 50, 2000)},
		Key{"runtime.memory_limit", "536870912", "Soft limit in bytes on the memory the daemon's Go runtime uses (Go's GOMEMLIMIT): near it the garbage collector runs as often as it must, whatever runtime.gc_percent says; it never refuses memory. The GOMEMLIMIT environment variable, when set, wins.",
			bytesIn(func(s *Settings) *int64 { return &s.Runtime.MemoryLimit }, 64<<20, 1<<40)})
	keys = append(keys, Key{"debug.pprof_listen", "", "Loopback address (127.0.0.1:port) to serve Go's pprof profiles on, for performance work. Empty: off. Only loopback addresses are accepted.",
		func(s *Settings, v string) error {
			s.Debug.PprofListen = v
			if v == "" {
				return nil
			}
			h, _, err := net.SplitHostPort(v)
			if err != nil {
				return fmt.Errorf("want 127.0.0.1:port: %w", err)
			}
			if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("only a loopback address is allowed")
			}
			return nil
		}})
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func hostPort(v string) error {
	h, p, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", p)
	}
	if h == "" {
		return fmt.Errorf("want host:port, the host is missing")
	}
	return nil
}

func enum(field func(*Settings) *string, allowed ...string) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		for _, a := range allowed {
			if v == a {
				*field(s) = v
				return nil
			}
		}
		return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
	}
}

func intIn(field func(*Settings) *int, lo, hi int) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want a whole number from %d to %d", lo, hi)
		}
		*field(s) = n
		return nil
	}
}

func dur(field func(*Settings) *time.Duration, min time.Duration) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			return fmt.Errorf("want a duration of at least %s, like 30s, 5m or 2h", min)
		}
		*field(s) = d
		return nil
	}
}

func bytesIn(field func(*Settings) *int64, lo, hi int64) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want a byte count from %d to %d", lo, hi)
		}
		*field(s) = n
		return nil
	}
}

func hashList(field func(*Settings) *[]string) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		var out []string
		for _, h := range splitList(v) {
			h = strings.ToLower(h)
			if _, err := hex.DecodeString(h); err != nil || (len(h) != 64 && len(h) != 40) {
				return fmt.Errorf("%q is not a SHA-256 or SHA-1 in hex", h)
			}
			out = append(out, h)
		}
		*field(s) = out
		return nil
	}
}

func urlList(field func(*Settings) *[]string) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		var out []string
		for _, raw := range splitList(v) {
			n, ok := message.Normalize(raw, nil)
			if !ok {
				return fmt.Errorf("%q is not an http, https or ftp URL", raw)
			}
			out = append(out, n)
		}
		*field(s) = out
		return nil
	}
}

func boolean(field func(*Settings) *bool) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		*field(s) = b
		return nil
	}
}

func nets(field func(*Settings) *[]netip.Prefix) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		var out []netip.Prefix
		for _, p := range splitList(v) {
			if !strings.Contains(p, "/") {
				a, err := netip.ParseAddr(p)
				if err != nil {
					return fmt.Errorf("%q is not an address or network (CIDR)", p)
				}
				out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			pr, err := netip.ParsePrefix(p)
			if err != nil {
				return fmt.Errorf("%q is not a network (CIDR)", p)
			}
			out = append(out, pr.Masked())
		}
		*field(s) = out
		return nil
	}
}

func domains(field func(*Settings) *[]string) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		var out []string
		for _, d := range splitList(v) {
			d = strings.ToLower(d)
			if strings.ContainsAny(d, "@ /:") || strings.Trim(d, ".") == "" {
				return fmt.Errorf("%q is not a domain", d)
			}
			out = append(out, d)
		}
		*field(s) = out
		return nil
	}
}

func addrList(field func(*Settings) *[]string) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		var out []string
		for _, a := range splitList(v) {
			a = strings.ToLower(a)
			if strings.ContainsAny(a, " /:<>") || strings.Count(a, "@") > 1 {
				return fmt.Errorf("%q is not an address or domain", a)
			}
			out = append(out, a)
		}
		*field(s) = out
		return nil
	}
}
