// Package cli is the command grammar shared by `mailinspector shell` (over
// SSH), the console and, later, the web console: words in, a typed result
// out, rendered as text for people or JSON for programs. Commands never run
// a shell; arguments are only ever data.
package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"

	"mailinspector/internal/sandbox"
)

// Backend is what commands act on; the appliance implements it.
type Backend interface {
	Version() Version
	SearchMessages(ctx context.Context, q MessageQuery) ([]MessageSummary, error)
	Message(ctx context.Context, id string) (*MessageDetail, error)
	Queue(ctx context.Context) ([]QueueEntry, error)
	// QueueRetry makes the waiting recipients of message id (of every
	// message: "") due now; QueueDelete takes them out of the queue.
	QueueRetry(ctx context.Context, id string) (int, error)
	QueueDelete(ctx context.Context, id string) (int, error)
	// QueueReroute sends them to host:port instead of the configured
	// route.
	QueueReroute(ctx context.Context, id, route string) (int, error)
	// Indicator is Threat Connect's detail of an indicator (hash, url,
	// domain, ip), or why it cannot be had.
	Indicator(ctx context.Context, kind, value string) (*Indicator, error)
	// Files are the files an administrator put on the appliance for
	// settings to name (a collector's CA, a TLS certificate): FilePut
	// stores one from standard input, and says its path.
	Files(ctx context.Context) ([]FileInfo, error)
	FilePut(ctx context.Context, name, data string) (Done, error)
	FileDelete(ctx context.Context, name string) error
	// ConfigExport is the signed configuration bundle (internal/bundle);
	// ConfigImport verifies and validates one, then applies it.
	ConfigExport(ctx context.Context) (string, error)
	ConfigImport(ctx context.Context, data string) (Done, error)
	// Power restarts the daemon, reboots or powers off (restart, reboot,
	// shutdown) through systemd.
	Power(ctx context.Context, action string) error
	Quarantine(ctx context.Context) ([]MessageSummary, error)
	Release(ctx context.Context, id string, rcpts []string) error
	Delete(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	Services(ctx context.Context) ([]ServiceStatus, error)
	Status(ctx context.Context) (*Status, error)
	// ShowSettings lists the settings file's keys (those starting with
	// prefix); CommitSettings changes keys and has the daemon reload,
	// rolling back by itself after confirm unless ConfirmSettings comes
	// first (0: no rollback); RollbackSettings puts the n-th newest kept
	// version back.
	ShowSettings(ctx context.Context, prefix string) ([]SettingValue, error)
	CommitSettings(ctx context.Context, changes map[string]string, confirm time.Duration) (Done, error)
	ConfirmSettings(ctx context.Context) (Done, error)
	RollbackSettings(ctx context.Context, n int) (Done, error)
	// EditList adds an entry to a list setting (add) or removes it.
	EditList(ctx context.Context, key, entry string, add bool) (Done, error)
	// Policies is the policies file ("" when the default policy applies);
	// CommitPolicies replaces it.
	Policies(ctx context.Context) (string, error)
	CommitPolicies(ctx context.Context, data string, confirm time.Duration) (Done, error)
	// TestSMTP and TestDNS are the diagnostics (internal/diagnose).
	TestSMTP(ctx context.Context, addr string) ([]string, error)
	TestDNS(ctx context.Context, name, qtype string) ([]string, error)
	// Logs are the daemon's last n log lines holding grep ("": all).
	Logs(ctx context.Context, n int, grep string) ([]string, error)
	// RawMessage is a message as received: a prefix of a large one, or
	// all of it (full).
	RawMessage(ctx context.Context, id string, full bool) (string, error)
	// Preview is a message's first text body as text (show preview).
	Preview(ctx context.Context, id string) (*Preview, error)
	// Accounts and the account changes (internal/accounts).
	Accounts(ctx context.Context) ([]AccountInfo, error)
	AccountAdd(ctx context.Context, name, role string) error
	AccountPassword(ctx context.Context, name, password string) error
	AccountRole(ctx context.Context, name, role string) error
	AccountUnlock(ctx context.Context, name string) error
	AccountDelete(ctx context.Context, name string) error
	// RecordAudit appends to the audit log; AuditLog reads it.
	RecordAudit(ctx context.Context, r AuditRecord) error
	AuditLog(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
	SandboxStatus(ctx context.Context) (*Sandbox, error)
	Analysis(ctx context.Context, sha256 string) (*Analysis, error)
	// AnalysisPage is the virtual analyzer's self-contained HTML report
	// of a sample (its screenshot inside).
	AnalysisPage(ctx context.Context, sha256 string) (string, error)
	// Lists are the list settings with their entries; ListExport and
	// ListImport are a list as CSV (<type>,<object>,[source],[notes]).
	Lists(ctx context.Context) ([]ListInfo, error)
	ListExport(ctx context.Context, key string) (string, error)
	ListImport(ctx context.Context, key, csv string, replace bool) (Done, error)
	// Clicks are the clicks on time-of-click's wrapped links; ClickTest
	// wraps a link for the administrator to try.
	Clicks(ctx context.Context, q ClickQuery) ([]ClickRecord, error)
	ClickTest(ctx context.Context, link string) (Done, error)
	ClickKeyRotate(ctx context.Context) (Done, error)
	// Stats counts the messages received in [since, until) (show stats).
	Stats(ctx context.Context, since, until time.Time, bucket time.Duration) (*Stats, error)
	// Updates is show updates; UpdateNow, UpdateImport (an absolute path
	// on the appliance) and UpdateRollback ("": the kind installed last)
	// change what is installed (internal/updates).
	Updates(ctx context.Context) (*Updates, error)
	UpdateNow(ctx context.Context) (Done, error)
	UpdateImport(ctx context.Context, path string) (Done, error)
	UpdateRollback(ctx context.Context, kind string) (Done, error)
	// Licence is show licence; LicenceActivate takes an activation code;
	// LicenceCheck asks the hub now (internal/licence).
	Licence(ctx context.Context) (*Licence, error)
	LicenceActivate(ctx context.Context, code string) (Done, error)
	LicenceCheck(ctx context.Context) (Done, error)
	// PolicyTemplates are those of the installed policy-templates bundle.
	PolicyTemplates(ctx context.Context) ([]PolicyTemplate, error)
}

// Sandbox is `show sandbox`: the virtual analyzer's libvirt connection,
// instances, queue and recent analyses.
type Sandbox struct {
	Configured  bool            `json:"configured"`
	Accelerator string          `json:"accelerator,omitempty"`
	Status      *sandbox.Status `json:"status,omitempty"`
}

// Analysis is `show analysis SHA256`: one sample's verdict and its report
// (sandbox.AnalysisReport as JSON).
type Analysis struct {
	SHA256    string          `json:"sha256"`
	Name      string          `json:"name"`
	Image     string          `json:"image"`
	State     string          `json:"state"` // pending, done, error, timeout
	Risk      string          `json:"risk"`
	Summary   string          `json:"summary"`
	Error     string          `json:"error,omitempty"`
	Submitted string          `json:"submitted"`
	Finished  string          `json:"finished,omitempty"`
	Report    json.RawMessage `json:"report,omitempty"`
}

// ServiceStatus is one line of `show services`: a cloud service or a local
// part (clamd, downstream, resolver) and whether the appliance reaches it.
type ServiceStatus struct {
	Name      string `json:"name"`
	State     string `json:"state"` // ok, degraded, unreachable, disabled, not-configured
	LastOK    string `json:"last_ok"`
	LastError string `json:"last_error"`
	Calls     int64  `json:"calls"`
	Failures  int64  `json:"failures"`
	Skips     int64  `json:"skips"`
	CacheHits int64  `json:"cache_hits"`
	Deadline  string `json:"deadline"`
	WhileOut  string `json:"while_out"`      // what is skipped while it is out of reach
	Note      string `json:"note,omitempty"` // what else there is to know (smart-feedback: its outbox)
}

type Version struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	Mode    string `json:"mode"`
	Started string `json:"started"`
}

type MessageSummary struct {
	ID       string   `json:"id"`
	Received string   `json:"received"`
	From     string   `json:"from"`
	To       []string `json:"to"`
	Subject  string   `json:"subject"`
	State    string   `json:"state"`
	Risk     string   `json:"risk"`
	Action   string   `json:"action"`
	Reason   string   `json:"reason,omitempty"`
}

type TrailEntry struct {
	At      string `json:"at"`
	Stage   string `json:"stage"`
	Service string `json:"service"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail"`
	MS      int64  `json:"ms"` // how long the step took
}

type Finding struct {
	Stage    string `json:"stage"`
	Engine   string `json:"engine"`
	Threat   string `json:"threat,omitempty"`
	Risk     string `json:"risk"`
	Name     string `json:"name,omitempty"`
	Location string `json:"location,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Object   string `json:"object,omitempty"`
}

type RecipientStatus struct {
	Rcpt        string `json:"rcpt"`
	Status      string `json:"status"`
	Attempts    int    `json:"attempts"`
	NextAttempt string `json:"next_attempt,omitempty"`
	LastError   string `json:"last_error,omitempty"`
}

type MessageDetail struct {
	MessageSummary
	ClientIP   string            `json:"client_ip"`
	Helo       string            `json:"helo"`
	TLS        string            `json:"tls,omitempty"`
	Size       int64             `json:"size"`
	HeaderFrom string            `json:"header_from"`
	MessageID  string            `json:"message_id"`
	Trail      []TrailEntry      `json:"trail"`
	Findings   []Finding         `json:"findings"`
	Recipients []RecipientStatus `json:"recipients"`
	// Attachments, Links and Relays are what the message held, as its
	// verdict recorded them (none before its first verdict).
	Attachments []Attachment `json:"attachments"`
	Links       []Link       `json:"links"`
	Relays      []string     `json:"relays"` // public relays of its Received fields, newest first: the first is its source
	// Headers are its header fields as received, while its bytes are kept
	// (quarantined and waiting messages); HeadersGone says why not.
	Headers     []HeaderField `json:"headers,omitempty"`
	HeadersGone string        `json:"headers_gone,omitempty"`
}

// Attachment is one file of a message (an attachment or an archive
// member) with what each engine made of it.
type Attachment struct {
	Name     string `json:"name"`
	Location string `json:"location"`
	Declared string `json:"declared_type,omitempty"` // what its name or Content-Type claims
	TrueType string `json:"true_type"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	SHA1     string `json:"sha1,omitempty"`
	// Results are the findings about this file ("clamd: malware, high"),
	// then the file engines' steps of the trail ("file-census: skipped").
	Results []string `json:"results"`
	// Sandbox is the virtual analyzer's state and risk when the file was
	// submitted; Report: its page can be shown (show report SHA256).
	Sandbox string `json:"sandbox,omitempty"`
	Report  bool   `json:"report,omitempty"`
}

// Link is one distinct link of a message.
type Link struct {
	URL      string   `json:"url"`     // normalised
	Written  string   `json:"written"` // as the message has it
	Location string   `json:"location"`
	Results  []string `json:"results"`
	// Clicks on it once time-of-click wrapped it; LastClick is the
	// newest's time, action and risk then.
	Clicks    int    `json:"clicks,omitempty"`
	LastClick string `json:"last_click,omitempty"`
}

// HeaderField is one header field, unfolded.
type HeaderField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type QueueEntry struct {
	ID          string `json:"id"`
	Received    string `json:"received"`
	From        string `json:"from"`
	Rcpt        string `json:"rcpt"`
	Status      string `json:"status"`
	Attempts    int    `json:"attempts"`
	NextAttempt string `json:"next_attempt"`
	LastError   string `json:"last_error,omitempty"`
	Route       string `json:"route,omitempty"` // queue reroute's host:port
}

// Preview is show preview: the text a reader sees first (the first text
// body, or the HTML body as text; never rendered), while the message's
// bytes are kept.
type Preview struct {
	ID   string `json:"id"`
	From string `json:"from"` // text, html (the HTML body as text) or none
	Text string `json:"text"`
	Cut  bool   `json:"cut,omitempty"` // longer than the preview shows
}

// Indicator is show indicator: the hub's Threat Connect detail, or the
// reason it is out of reach (then Reachable is false and the detection
// stands without it).
type Indicator struct {
	Kind      string   `json:"kind"`
	Value     string   `json:"value"`
	Reachable bool     `json:"reachable"`
	Known     bool     `json:"known"`
	Facts     []string `json:"facts,omitempty"`
	Source    string   `json:"source,omitempty"` // the hub's page it came from
	Reason    string   `json:"reason,omitempty"` // why Threat Connect could not be asked
	// HubPage is the hub's page of the indicator for a browser, through a
	// link the appliance signed for a limited time (no API key in it).
	HubPage string `json:"hub_page,omitempty"`
	// Local is what this appliance has seen of it, whether the hub answers
	// or not.
	Local LocalSightings `json:"local"`
}

// LocalSightings is what this appliance's detections say of an indicator.
type LocalSightings struct {
	Messages int      `json:"messages"`
	First    string   `json:"first,omitempty"`
	Last     string   `json:"last,omitempty"`
	Findings []string `json:"findings,omitempty"` // "engine: name (risk) × n"
	Newest   []string `json:"newest,omitempty"`   // message ids, newest first
}

// FileInfo is one file of show files.
type FileInfo struct {
	Name     string `json:"name"`
	Path     string `json:"path"` // what a setting names
	Size     int64  `json:"size"`
	Modified string `json:"modified"`
	SHA256   string `json:"sha256"`
}

// Done is the result of a command that changes something.
type Done struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	// Before and After, for a change of settings, are the keys it changed
	// ("key = value" lines), for the audit log.
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// command is one entry of the grammar.
type command struct {
	words []string // fixed words, e.g. show messages
	args  string   // argument synopsis for help
	help  string
	min   int // least number of arguments
	max   int // most (-1: any)
	run   func(ctx context.Context, b Backend, args []string) (any, error)
	// kind, for a command that changes something, is what the audit log
	// files it under; read-only commands have none and are not audited.
	kind string
	// admin: a command only Administrators run though it changes nothing
	// (show accounts); body: one that shows a message's bytes, which
	// Operators may not see.
	admin, body bool
}

func (c command) synopsis() string { return strings.Join(c.words, " ") }

var commands = []command{
	{[]string{"show", "version"}, "", "version of the appliance and how it runs", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.Version(), nil }, "", false, false},
	{[]string{"show", "messages"}, "[LIMIT | FILTER VALUE…]", "messages, newest first (100 a page), found by " +
		"from, to, subject (part of), risk, threat, state, action, since, until (24h, 7d, 2026-12-01), message-id, client-ip, policy; limit, page", 0, -1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			q, err := ParseMessageQuery(a, time.Now())
			if err != nil {
				return nil, err
			}
			return b.SearchMessages(ctx, q)
		}, "", false, false},
	{[]string{"show", "message"}, "ID", "one message with its trail, findings and recipients", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) { return b.Message(ctx, a[0]) }, "", false, false},
	{[]string{"show", "status"}, "", "version, uptime, mode, messages by state, data disk, services, licence", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.Status(ctx) }, "", false, false},
	{[]string{"show", "settings"}, "[PREFIX]", "the settings as the file has them (keys starting with PREFIX), changed ones marked", 0, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			prefix := ""
			if len(a) == 1 {
				prefix = a[0]
			}
			return b.ShowSettings(ctx, prefix)
		}, "", false, false},
	{[]string{"settings", "commit"}, "[confirmed MINUTES] KEY VALUE [KEY VALUE…]", "change settings and reload them (with confirmed: they roll back after MINUTES unless confirmed)", 2, -1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			var confirm time.Duration
			if strings.EqualFold(a[0], "confirmed") {
				if len(a) < 4 {
					return nil, fmt.Errorf("%w: settings commit confirmed MINUTES KEY VALUE [KEY VALUE…]", ErrUsage)
				}
				n, err := number("MINUTES", a[1], 24*60)
				if err != nil {
					return nil, err
				}
				confirm, a = time.Duration(n)*time.Minute, a[2:]
			}
			if len(a)%2 != 0 {
				return nil, fmt.Errorf("%w: settings commit takes KEY VALUE pairs (quote a value with spaces)", ErrUsage)
			}
			changes := map[string]string{}
			for i := 0; i < len(a); i += 2 {
				changes[a[i]] = a[i+1]
			}
			return b.CommitSettings(ctx, changes, confirm)
		}, "settings", false, false},
	{[]string{"settings", "confirm"}, "", "keep the settings or policies a commit confirmed put in place", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.ConfirmSettings(ctx) }, "settings", false, false},
	{[]string{"settings", "rollback"}, "N", "put back the settings as they were N commits ago", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			n, err := number("N", a[0], 100)
			if err != nil {
				return nil, err
			}
			return b.RollbackSettings(ctx, n)
		}, "settings", false, false},
	{[]string{"list", "add"}, "KEY ENTRY", "add one entry to a list (senders.blocked, senders.approved, exceptions.*, lists.*) and apply it", 2, 2,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			return b.EditList(ctx, a[0], a[1], true)
		}, "lists", false, false},
	{[]string{"list", "remove"}, "KEY ENTRY", "remove one entry from a list and apply it", 2, 2,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			return b.EditList(ctx, a[0], a[1], false)
		}, "lists", false, false},
	{[]string{"show", "logs"}, "[N] [grep WORD]", "the daemon's last N log lines (100), those holding WORD", 0, 3,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			n, grep := 100, ""
			if len(a) > 0 && !strings.EqualFold(a[0], "grep") {
				var err error
				if n, err = number("N", a[0], 5000); err != nil {
					return nil, err
				}
				a = a[1:]
			}
			switch {
			case len(a) == 2 && strings.EqualFold(a[0], "grep"):
				grep = a[1]
			case len(a) != 0:
				return nil, fmt.Errorf("%w: show logs [N] [grep WORD]", ErrUsage)
			}
			lines, err := b.Logs(ctx, n, grep)
			return Lines(lines), err
		}, "", false, false},
	{[]string{"show", "policies"}, "", "the policies file (policies.conf), or that the default policy applies", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) {
			p, err := b.Policies(ctx)
			if err == nil && p == "" {
				p = "no policies file: the default policy applies (policy.high, policy.unscannable, policy.medium, policy.unrated)"
			}
			return RawText(p), err
		}, "", false, false},
	{[]string{"policies", "commit"}, "[confirmed MINUTES]", "replace the policies with the file given on standard input (configure policies [confirmed MINUTES] < FILE): validated whole, the diff shown, reloaded; with confirmed they roll back after MINUTES unless confirmed", 0, 2,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			var confirm time.Duration
			if len(a) > 0 {
				if len(a) != 2 || !strings.EqualFold(a[0], "confirmed") {
					return nil, fmt.Errorf("%w: policies commit [confirmed MINUTES]", ErrUsage)
				}
				n, err := number("MINUTES", a[1], 24*60)
				if err != nil {
					return nil, err
				}
				confirm = time.Duration(n) * time.Minute
			}
			in := InputOf(ctx)
			if strings.TrimSpace(in) == "" {
				return nil, fmt.Errorf("%w: the new policies come on standard input: configure policies < policies.conf", ErrUsage)
			}
			return b.CommitPolicies(ctx, in, confirm)
		}, "policies", false, false},
	{[]string{"test", "smtp"}, "HOST[:PORT]", "connect to an SMTP server as delivery would: greeting, EHLO, extensions, STARTTLS and its certificate", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			r, err := b.TestSMTP(ctx, a[0])
			return Lines(r), err
		}, "", true, false},
	{[]string{"test", "dns"}, "NAME [A|AAAA|MX|TXT|PTR|CNAME|NS]", "ask the configured resolver (dns.resolver) as the appliance does", 1, 2,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			qtype := "A"
			if len(a) == 2 {
				qtype = a[1]
			}
			r, err := b.TestDNS(ctx, a[0], qtype)
			return Lines(r), err
		}, "", true, false},
	{[]string{"show", "preview"}, "ID", "a message's first text body as text (the HTML body's text when it has none), for a quarantine's preview (not for Operators)", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) { return b.Preview(ctx, a[0]) }, "", false, true},
	{[]string{"show", "raw"}, "ID [full]", "a message as received, headers and body, its first 256 KiB or all of it (not for Operators)", 1, 2,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if len(a) == 2 && !strings.EqualFold(a[1], "full") {
				return nil, fmt.Errorf("%w: show raw ID [full]", ErrUsage)
			}
			raw, err := b.RawMessage(ctx, a[0], len(a) == 2)
			return RawText(raw), err
		}, "", false, true},
	{[]string{"show", "accounts"}, "", "the appliance's accounts, roles, last logins and locks", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.Accounts(ctx) }, "", true, false},
	{[]string{"account", "add"}, "NAME ROLE", "a new account (administrator, investigator or operator); account password sets its password", 2, 2,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if err := b.AccountAdd(ctx, a[0], a[1]); err != nil {
				return nil, err
			}
			return Done{OK: true, Message: "account " + a[0] + " added as " + a[1] + "; set its password with account password " + a[0]}, nil
		}, "accounts", false, false},
	{[]string{"account", "password"}, "NAME", "set an account's password (typed twice on a terminal, else read from standard input)", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			pw := SecretOf(ctx)
			if pw == "" {
				return nil, fmt.Errorf("%w: the password comes on the shell's standard input, not on the command line", ErrUsage)
			}
			if err := b.AccountPassword(ctx, a[0], pw); err != nil {
				return nil, err
			}
			return Done{OK: true, Message: "password of " + a[0] + " set"}, nil
		}, "accounts", false, false},
	{[]string{"account", "role"}, "NAME ROLE", "change an account's role (admin stays an administrator)", 2, 2,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if err := b.AccountRole(ctx, a[0], a[1]); err != nil {
				return nil, err
			}
			return Done{OK: true, Message: a[0] + " is now " + a[1]}, nil
		}, "accounts", false, false},
	{[]string{"account", "unlock"}, "NAME", "lift a lock after failed logins", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if err := b.AccountUnlock(ctx, a[0]); err != nil {
				return nil, err
			}
			return Done{OK: true, Message: a[0] + " unlocked"}, nil
		}, "accounts", false, false},
	{[]string{"account", "delete"}, "NAME", "delete an account (not admin)", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if err := b.AccountDelete(ctx, a[0]); err != nil {
				return nil, err
			}
			return Done{OK: true, Message: "account " + a[0] + " deleted"}, nil
		}, "accounts", false, false},
	{[]string{"show", "indicator"}, "hash|url|domain|ip VALUE", "what Threat Connect knows of a detection's indicator, or why it cannot be asked now", 2, 2,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if err := checkIndicator(a[0], a[1]); err != nil {
				return nil, err
			}
			return b.Indicator(ctx, a[0], a[1])
		}, "", false, false},
	{[]string{"show", "files"}, "", "the files put on the appliance for settings to name (file put)", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.Files(ctx) }, "", true, false},
	{[]string{"file", "put"}, "NAME", "store standard input as a file settings can name, e.g. file put siem-ca.pem < ca.pem; says its path", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			in := InputOf(ctx)
			if in == "" {
				return nil, fmt.Errorf("%w: the file comes on standard input: file put NAME < FILE", ErrUsage)
			}
			return b.FilePut(ctx, a[0], in)
		}, "files", false, false},
	{[]string{"file", "delete"}, "NAME", "delete a file put on the appliance", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if err := b.FileDelete(ctx, a[0]); err != nil {
				return nil, err
			}
			return Done{OK: true, Message: "file " + a[0] + " deleted"}, nil
		}, "files", false, false},
	{[]string{"config", "export"}, "", "the settings, policies and accounts (password hashes only) as one signed file: ssh admin@host config export > appliance.conf.json", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) {
			s, err := b.ConfigExport(ctx)
			// JSON whose strings escape every control character: shown
			// as it is, so that the file is the bundle.
			return json.RawMessage(s), err
		}, "", true, false},
	{[]string{"config", "import"}, "", "verify, validate and apply a file config export made, from standard input (config import < FILE); nothing changes unless all of it is good", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) {
			in := InputOf(ctx)
			if strings.TrimSpace(in) == "" {
				return nil, fmt.Errorf("%w: the bundle comes on standard input: config import < appliance.conf.json", ErrUsage)
			}
			return b.ConfigImport(ctx, in)
		}, "config", false, false},
	{[]string{"restart"}, "", "restart the daemon through systemd (the mail it holds waits, nothing is lost)", 0, 0,
		powerCommand("restart", "the daemon restarts now"), "power", false, false},
	{[]string{"reboot"}, "", "reboot the appliance through systemd", 0, 0,
		powerCommand("reboot", "the appliance reboots in a few seconds"), "power", false, false},
	{[]string{"shutdown"}, "", "power the appliance off through systemd", 0, 0,
		powerCommand("shutdown", "the appliance powers off in a few seconds"), "power", false, false},
	{[]string{"show", "audit"}, "[who A] [kind K] [since 24h|DATE] [until …] [limit N]", "the audit log: who changed what, from where, newest first", 0, -1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			q, err := parseAuditQuery(a, time.Now())
			if err != nil {
				return nil, err
			}
			return b.AuditLog(ctx, q)
		}, "", false, false},
	{[]string{"show", "services"}, "", "cloud services and local parts: state, last success, last error, counters", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.Services(ctx) }, "", false, false},
	{[]string{"show", "stats"}, "[24h|7d|30d]", "detections by risk over the period (hourly, six-hourly, daily), the top threat types, recipients and sources", 0, 1,
		showStats, "", false, false},
	{[]string{"show", "sandbox"}, "", "the virtual analyzer: libvirt connection, instances, queue, recent analyses", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.SandboxStatus(ctx) }, "", false, false},
	{[]string{"show", "analysis"}, "SHA256|URL", "the virtual analyzer's verdict and report for one sample or link", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			link := strings.HasPrefix(a[0], "http://") || strings.HasPrefix(a[0], "https://")
			if !link && (len(a[0]) != 64 || strings.Trim(strings.ToLower(a[0]), "0123456789abcdef") != "") {
				return nil, fmt.Errorf("%w: SHA256 is 64 hex digits, or give the link (http:// or https://)", ErrUsage)
			}
			return b.Analysis(ctx, a[0])
		}, "", false, false},
	{[]string{"show", "report"}, "SHA256", "the virtual analyzer's HTML report of a sample, screenshot included (not for Operators: it shows content)", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if len(a[0]) != 64 || strings.Trim(strings.ToLower(a[0]), "0123456789abcdef") != "" {
				return nil, fmt.Errorf("%w: SHA256 is 64 hex digits", ErrUsage)
			}
			page, err := b.AnalysisPage(ctx, strings.ToLower(a[0]))
			return RawText(page), err
		}, "", false, true},
	{[]string{"show", "queue"}, queueArgs, "recipients waiting for delivery, the next due first, found by filters (from and to: a part of; status, id: exact)", 0, -1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			f, err := parseQueueFilter(a)
			if err != nil {
				return nil, err
			}
			qs, err := b.Queue(ctx)
			if err != nil {
				return nil, err
			}
			return f.apply(qs, time.Now()), nil
		}, "", false, false},
	{[]string{"show", "quarantine"}, "", "quarantined messages, newest first", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.Quarantine(ctx) }, "", false, false},
	{[]string{"queue", "flush"}, "", "try every waiting recipient again now", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) {
			n, err := b.QueueRetry(ctx, "")
			if err != nil {
				return nil, err
			}
			return Done{OK: true, Message: fmt.Sprintf("%d recipients to be tried again now", n)}, nil
		}, "queue", false, false},
	{[]string{"queue", "retry"}, "ID", "try the waiting recipients of one message again now", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			n, err := b.QueueRetry(ctx, a[0])
			if err != nil {
				return nil, err
			}
			return Done{OK: true, Message: fmt.Sprintf("%s: %d recipients to be tried again now", a[0], n)}, nil
		}, "queue", false, false},
	{[]string{"queue", "delete"}, "ID", "take a message's waiting recipients out of the queue (a DSN to the sender unless queue.delete=drop)", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			n, err := b.QueueDelete(ctx, a[0])
			if err != nil {
				return nil, err
			}
			return Done{OK: true, Message: fmt.Sprintf("%s: %d recipients deleted from the queue", a[0], n)}, nil
		}, "queue", false, false},
	{[]string{"queue", "reroute"}, "ID HOST[:PORT]", "send a message's waiting recipients to another host (port 25 unless given), now and on every later attempt", 2, 2,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			route, err := hostPort25(a[1])
			if err != nil {
				return nil, err
			}
			n, err := b.QueueReroute(ctx, a[0], route)
			if err != nil {
				return nil, err
			}
			return Done{OK: true, Message: fmt.Sprintf("%s: %d recipients rerouted to %s, tried now", a[0], n, route)}, nil
		}, "queue", false, false},
	{[]string{"quarantine", "release"}, "ID [RCPT…]", "deliver the original to all recipients, or to those named", 1, -1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if err := b.Release(ctx, a[0], a[1:]); err != nil {
				return nil, err
			}
			return Done{OK: true, Message: "released " + a[0]}, nil
		}, "quarantine", false, false},
	{[]string{"quarantine", "resume"}, "ID", "analyse a quarantined message again; the new verdict decides", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if err := b.Resume(ctx, a[0]); err != nil {
				return nil, err
			}
			return Done{OK: true, Message: "resumed " + a[0]}, nil
		}, "quarantine", false, false},
	{[]string{"quarantine", "delete"}, "ID", "delete a quarantined message", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if err := b.Delete(ctx, a[0]); err != nil {
				return nil, err
			}
			return Done{OK: true, Message: "deleted " + a[0]}, nil
		}, "quarantine", false, false},
}

// Lines are lines of text (show logs, test smtp, test dns), escaped for
// the terminal when shown.
type Lines []string

// RawText is a message's bytes for show raw: escaped for the terminal
// (newlines kept), as JSON a string.
type RawText string

// HelpText is the list of commands.
type HelpText string

// Help lists the commands.
func Help() HelpText {
	var lines []string
	for _, c := range commands {
		syn := strings.Join(c.words, " ")
		if c.args != "" {
			syn += " " + c.args
		}
		lines = append(lines, fmt.Sprintf("%-36s %s", syn, c.help))
	}
	sort.Strings(lines)
	return HelpText(strings.Join(lines, "\n"))
}

// ErrUsage marks an error in what was typed, as opposed to a failure.
var ErrUsage = errors.New("usage")

// Split breaks a command line into words: spaces separate, double or single
// quotes group, nothing else is special.
func Split(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case unicode.IsSpace(r):
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%w: unclosed quote", ErrUsage)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// Exec runs one command line.
func Exec(ctx context.Context, b Backend, line string) (any, error) {
	words, err := Split(line)
	if err != nil {
		return nil, err
	}
	return ExecWords(ctx, b, words)
}

// ExecWords runs a command already in words: a front end that has its
// arguments apart (a web form's fields) passes them as they are, so no
// value can change the command's grammar.
func ExecWords(ctx context.Context, b Backend, words []string) (any, error) {
	if len(words) == 0 {
		return nil, fmt.Errorf("%w: empty command (try help)", ErrUsage)
	}
	if len(words) == 1 && (strings.EqualFold(words[0], "help") || words[0] == "?") {
		return Help(), nil
	}
	for _, c := range commands {
		if len(words) < len(c.words) || !equalFold(words[:len(c.words)], c.words) {
			continue
		}
		args := words[len(c.words):]
		if len(args) < c.min || (c.max >= 0 && len(args) > c.max) {
			return nil, fmt.Errorf("%w: %s %s", ErrUsage, strings.Join(c.words, " "), c.args)
		}
		if err := allowed(ctx, c); err != nil {
			// Every refusal is filed, a read too (an Operator asking for
			// a message's bytes): kind access when the command changes
			// nothing.
			kind := c.kind
			if kind == "" {
				kind = "access"
			}
			audit(ctx, b, kind, words, nil, err)
			return nil, err
		}
		v, err := c.run(ctx, b, args)
		if c.kind != "" {
			v, err = audit(ctx, b, c.kind, words, v, err)
		}
		return v, err
	}
	return nil, fmt.Errorf("%w: unknown command %q (try help)", ErrUsage, strings.Join(words, " "))
}

// audit files a command that changes something, whether it worked or not.
// A change the audit log could not record is reported as an error: the
// administrator must know the trail has a hole.
func audit(ctx context.Context, b Backend, kind string, words []string, v any, err error) (any, error) {
	c := CallerOf(ctx)
	r := AuditRecord{At: time.Now().UTC().Format(time.RFC3339), Who: c.Who, Via: c.Via, Kind: kind, Command: Redact(strings.Join(words, " ")), OK: err == nil}
	switch {
	case err != nil:
		r.Detail = err.Error()
	default:
		if d, ok := v.(Done); ok {
			r.Detail, r.Before, r.After = d.Message, d.Before, d.After
		}
	}
	if aerr := b.RecordAudit(context.WithoutCancel(ctx), r); aerr != nil {
		if err == nil {
			err = fmt.Errorf("done, but the audit log could not record it: %w", aerr)
		}
	}
	return v, err
}

func equalFold(a, b []string) bool {
	for i := range b {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}

// Render turns a result into text for a person or JSON for a program.
func Render(v any, asJSON bool) (string, error) {
	if asJSON {
		if h, ok := v.(HelpText); ok {
			v = strings.Split(string(h), "\n")
		}
		b, err := json.MarshalIndent(v, "", "  ")
		return string(b), err
	}
	switch t := v.(type) {
	case HelpText:
		return string(t), nil
	case json.RawMessage:
		return string(t), nil
	case Done:
		return t.Message, nil
	case Version:
		return fmt.Sprintf("Mail Inspector %s (%s), mode %s, running since %s", t.Version, t.Go, t.Mode, t.Started), nil
	case []MessageSummary:
		return messageTable(t), nil
	case []ServiceStatus:
		return servicesTable(t), nil
	case *Status:
		return statusText(t), nil
	case []AuditRecord:
		return auditTable(t), nil
	case []SettingValue:
		return settingsText(t), nil
	case []AccountInfo:
		return accountsTable(t), nil
	case Lines:
		if len(t) == 0 {
			return "no log lines", nil
		}
		out := make([]string, len(t))
		for i, l := range t {
			out[i] = term(l)
		}
		return strings.Join(out, "\n"), nil
	case RawText:
		lines := strings.Split(string(t), "\n")
		for i, l := range lines {
			lines[i] = term(strings.TrimSuffix(l, "\r"))
		}
		return strings.Join(lines, "\n"), nil
	case *Indicator:
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s\n", t.Kind, term(t.Value))
		switch {
		case !t.Reachable:
			fmt.Fprintf(&b, "  Threat Connect cannot be reached: %s\n", term(t.Reason))
		case !t.Known:
			fmt.Fprintf(&b, "  unknown to Threat Connect\n")
		default:
			for _, f := range t.Facts {
				fmt.Fprintf(&b, "  %s\n", term(f))
			}
		}
		if t.HubPage != "" {
			fmt.Fprintf(&b, "  the hub's page (a link valid for an hour): %s\n", term(t.HubPage))
		}
		if t.Local.Messages == 0 {
			b.WriteString("  this appliance: no detection names it")
		} else {
			fmt.Fprintf(&b, "  this appliance: %d messages, first %s, last %s\n", t.Local.Messages, t.Local.First, t.Local.Last)
			for _, f := range t.Local.Findings {
				fmt.Fprintf(&b, "    %s\n", term(f))
			}
			fmt.Fprintf(&b, "    newest: %s", strings.Join(t.Local.Newest, " "))
		}
		return b.String(), nil
	case []FileInfo:
		rows := make([][]string, 0, len(t))
		for _, f := range t {
			rows = append(rows, []string{term(f.Path), fmt.Sprint(f.Size), f.Modified, f.SHA256[:16]})
		}
		return table("no files (file put NAME < FILE stores one)", []string{"PATH", "BYTES", "MODIFIED", "SHA-256"}, rows), nil
	case []QueueEntry:
		return queueTable(t), nil
	case *MessageDetail:
		return messageText(t), nil
	case *Sandbox:
		return sandboxText(t), nil
	case *Stats:
		return statsText(t), nil
	case []ListInfo:
		return listsText(t), nil
	case *Preview:
		return previewText(t), nil
	case []ClickRecord:
		return clicksText(t), nil
	case *Updates:
		return updatesText(t), nil
	case *Licence:
		return licenceText(t), nil
	case []PolicyTemplate:
		if len(t) == 0 {
			return "no policy templates (a policy-templates bundle brings them: update import FILE)", nil
		}
		var b strings.Builder
		for _, p := range t {
			fmt.Fprintf(&b, "# template %s (policy-templates version %d)\n", term(p.Name), p.Version)
			for _, l := range strings.Split(strings.TrimRight(p.Text, "\n"), "\n") {
				b.WriteString(term(l) + "\n")
			}
		}
		return strings.TrimRight(b.String(), "\n"), nil
	case *Analysis:
		return analysisText(t), nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	return string(b), err
}

func powerCommand(action, done string) func(context.Context, Backend, []string) (any, error) {
	return func(ctx context.Context, b Backend, _ []string) (any, error) {
		if err := b.Power(ctx, action); err != nil {
			return nil, err
		}
		return Done{OK: true, Message: done}, nil
	}
}

// checkIndicator refuses what is not an indicator of its kind before the
// hub is asked: a typing error must not count against the service.
func checkIndicator(kind, v string) error {
	ok := false
	switch kind {
	case "hash":
		_, err := hex.DecodeString(v)
		ok = err == nil && len(v) == 64
	case "url":
		u, err := url.Parse(v)
		ok = err == nil && (u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "ftp") && u.Host != ""
	case "ip":
		_, err := netip.ParseAddr(v)
		ok = err == nil
	case "domain":
		ok = strings.Contains(v, ".") && !strings.ContainsAny(v, " /:@") && len(v) <= 253
	default:
		return fmt.Errorf("%w: an indicator is a hash, url, domain or ip", ErrUsage)
	}
	if !ok {
		return fmt.Errorf("%w: %q is not a %s", ErrUsage, v, kind)
	}
	return nil
}
