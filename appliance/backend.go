package appliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"mailinspector/internal/accounts"
	"mailinspector/internal/bundle"
	"mailinspector/internal/cli"
	"mailinspector/internal/configure"
	"mailinspector/internal/diagnose"
	"mailinspector/internal/disk"
	"mailinspector/internal/durable"
	"mailinspector/internal/power"
	"mailinspector/internal/settings"
	"mailinspector/internal/store"
)

// The appliance is the backend of the command layer (cli.Backend).

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func summary(m *store.Message) cli.MessageSummary {
	to := m.To
	if to == nil {
		to = []string{}
	}
	return cli.MessageSummary{ID: m.ID, Received: timeText(m.Received), From: m.From, To: to, Subject: m.Subject,
		State: m.State, Risk: m.Risk, Action: m.Action, Reason: m.Reason}
}

func (a *Appliance) Version() cli.Version {
	return cli.Version{Version: Version, Go: goVersion(), Mode: a.Settings.Mode, Started: timeText(a.started)}
}

// Messages lists the newest messages.
func (a *Appliance) Messages(ctx context.Context, limit int) ([]cli.MessageSummary, error) {
	return a.SearchMessages(ctx, cli.MessageQuery{Limit: limit})
}

// SearchMessages is message tracking (show messages with filters).
func (a *Appliance) SearchMessages(ctx context.Context, q cli.MessageQuery) ([]cli.MessageSummary, error) {
	ms, err := a.db.SearchMessages(ctx, store.MessageFilter{From: q.From, To: q.To, Subject: q.Subject, Risk: q.Risk,
		Threat: q.Threat, State: q.State, Action: q.Action, MessageID: q.MessageID, ClientIP: q.ClientIP, Policy: q.Policy,
		Since: q.Since, Until: q.Until, Limit: q.Limit, Page: q.Page})
	if err != nil {
		return nil, err
	}
	out := make([]cli.MessageSummary, 0, len(ms))
	for _, m := range ms {
		out = append(out, summary(m))
	}
	return out, nil
}

func (a *Appliance) Message(ctx context.Context, id string) (*cli.MessageDetail, error) {
	m, err := a.db.GetMessage(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", id, err)
	}
	d := &cli.MessageDetail{MessageSummary: summary(m), ClientIP: m.ClientIP, Helo: m.Helo, TLS: m.TLS, Size: m.Size,
		HeaderFrom: m.HeaderFrom, MessageID: m.MessageID, Trail: []cli.TrailEntry{}, Findings: []cli.Finding{}, Recipients: []cli.RecipientStatus{},
		Attachments: []cli.Attachment{}, Links: []cli.Link{}, Relays: []string{}}
	trail, err := a.db.Trail(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, t := range trail {
		d.Trail = append(d.Trail, cli.TrailEntry{At: timeText(t.At), Stage: t.Stage, Service: t.Service, Outcome: t.Outcome, Detail: t.Detail,
			MS: t.Elapsed.Milliseconds()})
	}
	fs, err := a.db.Findings(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		d.Findings = append(d.Findings, cli.Finding(f))
	}
	if err := a.addObjects(ctx, d, fs, trail); err != nil {
		return nil, err
	}
	a.addHeaders(d)
	rs, err := a.db.Recipients(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		d.Recipients = append(d.Recipients, cli.RecipientStatus{Rcpt: r.Rcpt, Status: r.Status, Attempts: r.Attempts,
			NextAttempt: timeText(r.NextAttempt), LastError: r.LastError})
	}
	return d, nil
}

func (a *Appliance) Queue(ctx context.Context) ([]cli.QueueEntry, error) {
	rs, err := a.db.QueuedRecipients(ctx, 10000)
	if err != nil {
		return nil, err
	}
	out := make([]cli.QueueEntry, 0, len(rs))
	msgs := map[string]*store.Message{} // one read per message, not per recipient
	for _, r := range rs {
		m, ok := msgs[r.MessageID]
		if !ok {
			if m, _ = a.db.GetMessage(ctx, r.MessageID); m == nil {
				m = &store.Message{}
			}
			msgs[r.MessageID] = m
		}
		out = append(out, cli.QueueEntry{ID: r.MessageID, Received: timeText(m.Received), From: m.From, Rcpt: r.Rcpt, Status: r.Status,
			Attempts: r.Attempts, NextAttempt: timeText(r.NextAttempt), LastError: r.LastError, Route: m.Route})
	}
	return out, nil
}

func (a *Appliance) Quarantine(ctx context.Context) ([]cli.MessageSummary, error) {
	return a.SearchMessages(ctx, cli.MessageQuery{State: store.StateQuarantined, Limit: 10000})
}

// QueueRetry and QueueDelete are the delivery queue's.
func (a *Appliance) QueueRetry(ctx context.Context, id string) (int, error) {
	return a.queue.RetryNow(ctx, id)
}

// Power is restart, reboot and shutdown (internal/power).
func (a *Appliance) Power(ctx context.Context, action string) error {
	a.Log.Warn("power action asked on the command line", "action", action)
	return power.Do(ctx, action)
}

func (a *Appliance) QueueReroute(ctx context.Context, id, route string) (int, error) {
	return a.queue.Reroute(ctx, id, route)
}

func (a *Appliance) QueueDelete(ctx context.Context, id string) (int, error) {
	return a.queue.Delete(ctx, id, a.Settings.Delivery.OnDelete != "drop")
}

// Release, Delete and Resume are the quarantine's (internal/quarantine).
func (a *Appliance) Release(ctx context.Context, id string, rcpts []string) error {
	return a.quarantine.Release(ctx, id, rcpts)
}

func (a *Appliance) Delete(ctx context.Context, id string) error { return a.quarantine.Delete(ctx, id) }

func (a *Appliance) Resume(ctx context.Context, id string) error { return a.quarantine.Resume(ctx, id) }

// Status is show status.
func (a *Appliance) Status(ctx context.Context) (*cli.Status, error) {
	byState, err := a.db.CountByState(ctx)
	if err != nil {
		return nil, err
	}
	st := &cli.Status{Version: Version, Mode: a.Settings.Mode, Started: timeText(a.started),
		Uptime: time.Since(a.started).Round(time.Second).String(), Messages: byState, Services: map[string]int{},
		Licence: a.updates.LicenceState()}
	u, err := disk.Measure(a.DataDir)
	if err != nil {
		return nil, err
	}
	st.Disk = cli.DiskStatus{Path: a.DataDir, UsedPercent: 100 * u.Ratio(), HighWater: a.Settings.Limits.DiskHighWater,
		Full: a.disk.Full(), TotalBytes: u.Total, FreeBytes: u.Free, SpoolBytes: a.spool.Bytes()}
	for _, s := range a.services.Statuses() {
		st.Services[s.State]++
	}
	cs, _ := a.siem.Stats()
	for _, c := range cs {
		st.SIEM = append(st.SIEM, cli.SIEMStatus{Collector: c.Name, Connected: c.Connected, Sent: c.Sent, Pending: c.Pending,
			Dropped: c.Dropped, LastError: c.LastError})
	}
	return st, nil
}

// RecordAudit appends to the audit log.
func (a *Appliance) RecordAudit(ctx context.Context, r cli.AuditRecord) error {
	err := a.db.Write(ctx, func(tx *store.Tx) error {
		return store.AddAudit(tx, &store.AuditEntry{Who: r.Who, Via: r.Via, Kind: r.Kind, Command: r.Command, OK: r.OK,
			Detail: r.Detail, Before: r.Before, After: r.After})
	})
	if err == nil {
		a.audited(r)
	}
	return err
}

// AuditLog is show audit.
func (a *Appliance) AuditLog(ctx context.Context, q cli.AuditQuery) ([]cli.AuditRecord, error) {
	es, err := a.db.Audit(ctx, store.AuditFilter{Who: q.Who, Kind: q.Kind, Since: q.Since, Until: q.Until, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]cli.AuditRecord, 0, len(es))
	for _, e := range es {
		out = append(out, cli.AuditRecord{At: timeText(e.At), Who: e.Who, Via: e.Via, Kind: e.Kind, Command: e.Command, OK: e.OK,
			Detail: e.Detail, Before: e.Before, After: e.After})
	}
	return out, nil
}

// ShowSettings is show settings.
func (a *Appliance) ShowSettings(ctx context.Context, prefix string) ([]cli.SettingValue, error) {
	vs, err := settings.Values(a.DataDir)
	if err != nil {
		return nil, err
	}
	out := []cli.SettingValue{}
	for _, v := range vs {
		if strings.HasPrefix(v.Key, prefix) {
			value := v.Value
			if settings.Secret(v.Key) && value != "" {
				value = HiddenValue
			}
			out = append(out, cli.SettingValue{Key: v.Key, Value: value, Default: v.Default, Changed: v.Value != v.Default})
		}
	}
	return out, nil
}

// HiddenValue stands for a secret's value (settings.Secret) in show
// settings. Configure mode
// sends a key only when it changed, so a hidden value is never written
// back.
const HiddenValue = "(set, not shown)"

// CommitSettings, ConfirmSettings and RollbackSettings are the
// configurator's (internal/configure).
func (a *Appliance) CommitSettings(ctx context.Context, changes map[string]string, confirm time.Duration) (cli.Done, error) {
	c, err := a.configure.Commit(changes, scaleMinutes(confirm))
	if err != nil {
		return cli.Done{}, err
	}
	return cli.Done{OK: true, Message: c.Message, Before: c.Before, After: c.After}, nil
}

func (a *Appliance) ConfirmSettings(ctx context.Context) (cli.Done, error) {
	msg, err := a.configure.Confirm()
	return cli.Done{OK: err == nil, Message: msg}, err
}

func (a *Appliance) RollbackSettings(ctx context.Context, n int) (cli.Done, error) {
	c, err := a.configure.Rollback(n)
	if err != nil {
		return cli.Done{}, err
	}
	return cli.Done{OK: true, Message: c.Message}, nil
}

// EditList is list add and list remove.
func (a *Appliance) EditList(ctx context.Context, key, entry string, add bool) (cli.Done, error) {
	c, err := a.configure.Edit(key, entry, add)
	if err != nil {
		return cli.Done{}, err
	}
	return cli.Done{OK: true, Message: c.Message, Before: c.Before, After: c.After}, nil
}

// rawLimit is how much of a message show raw gives.
const rawLimit = 256 << 10

// RawMessage is show raw.
func (a *Appliance) RawMessage(ctx context.Context, id string, full bool) (string, error) {
	if _, err := a.db.GetMessage(ctx, id); err != nil {
		return "", fmt.Errorf("message %s: %w", id, err)
	}
	f, err := a.spool.Open(id)
	if err != nil {
		return "", fmt.Errorf("message %s: its bytes are no longer kept (delivered, deleted or monitored messages are not)", id)
	}
	defer f.Close()
	if full {
		b, err := io.ReadAll(f)
		return string(b), err
	}
	b, err := io.ReadAll(io.LimitReader(f, rawLimit+1))
	if err != nil {
		return "", err
	}
	if len(b) > rawLimit {
		return string(b[:rawLimit]) + fmt.Sprintf("\n[… cut at %d bytes]", rawLimit), nil
	}
	return string(b), nil
}

// Accounts is show accounts.
func (a *Appliance) Accounts(ctx context.Context) ([]cli.AccountInfo, error) {
	as, err := a.accounts.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cli.AccountInfo, 0, len(as))
	for _, x := range as {
		out = append(out, cli.AccountInfo{Name: x.Name, Role: x.Role, Password: x.Hash != "", Created: timeText(x.Created),
			LastLogin: timeText(x.LastLogin), LockedUntil: timeText(x.LockedUntil)})
	}
	return out, nil
}

func (a *Appliance) AccountAdd(ctx context.Context, name, role string) error {
	return a.accounts.Add(ctx, name, role)
}

func (a *Appliance) AccountPassword(ctx context.Context, name, pw string) error {
	return a.accounts.SetPassword(ctx, name, pw)
}

func (a *Appliance) AccountRole(ctx context.Context, name, role string) error {
	return a.accounts.SetRole(ctx, name, role)
}

func (a *Appliance) AccountUnlock(ctx context.Context, name string) error {
	return a.accounts.Unlock(ctx, name)
}

func (a *Appliance) AccountDelete(ctx context.Context, name string) error {
	return a.accounts.Delete(ctx, name)
}

// Logs is show logs.
func (a *Appliance) Logs(ctx context.Context, n int, grep string) ([]string, error) {
	r := a.logs.Load()
	if r == nil {
		return nil, errors.New("this daemon keeps no log lines in memory (mailinspector serve does)")
	}
	return r.Last(n, grep), nil
}

// TestSMTP is test smtp.
func (a *Appliance) TestSMTP(ctx context.Context, addr string) ([]string, error) {
	host := a.Settings.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	return diagnose.SMTP(ctx, addr, host, nil), nil
}

// TestDNS is test dns, through dns.resolver.
func (a *Appliance) TestDNS(ctx context.Context, name, qtype string) ([]string, error) {
	return diagnose.DNS(ctx, a.Settings.DNS.Resolver, name, qtype)
}

// Policies is show policies.
func (a *Appliance) Policies(ctx context.Context) (string, error) {
	p, _, err := a.configure.Policies()
	return p, err
}

// CommitPolicies is configure policies.
func (a *Appliance) CommitPolicies(ctx context.Context, data string, confirm time.Duration) (cli.Done, error) {
	c, err := a.configure.CommitPolicies([]byte(data), scaleMinutes(confirm))
	if err != nil {
		return cli.Done{}, err
	}
	return cli.Done{OK: true, Message: c.Message, Before: c.Before, After: c.After}, nil
}

// accountRole is the role of the account an OS user of the same name acts
// as on the control socket: an Investigator or an Operator given their own
// SSH login on the appliance. A locked account is refused, as its logins
// are.
func (a *Appliance) accountRole(ctx context.Context, osUser string) (string, error) {
	acc, err := a.db.GetAccount(ctx, osUser)
	if err != nil {
		return "", fmt.Errorf("no account named %q", osUser)
	}
	if acc.LockedUntil.After(time.Now()) {
		return "", accounts.ErrLocked
	}
	return acc.Role, nil
}

// scaleMinutes is commit confirmed's time: MAILINSPECTOR_CONFIRM_MINUTE
// (a duration) shortens its minute for tests that drive a real daemon and
// cannot wait for one; unset, a minute is a minute.
func scaleMinutes(d time.Duration) time.Duration {
	if m, err := time.ParseDuration(os.Getenv("MAILINSPECTOR_CONFIRM_MINUTE")); err == nil && m > 0 {
		return d / time.Minute * m
	}
	return d
}

// ConfigExport is config export: the signed bundle of the settings file,
// the policies and the accounts (internal/bundle).
func (a *Appliance) ConfigExport(ctx context.Context) (string, error) {
	b := &bundle.Bundle{Format: bundle.Format, Exported: time.Now().UTC(), By: cli.CallerOf(ctx).Who, Host: a.Settings.Hostname, Version: Version}
	data, err := os.ReadFile(filepath.Join(a.DataDir, settings.FileName))
	if err != nil && !os.IsNotExist(err) {
		return "", err
	}
	b.Settings = string(data)
	if b.Policies, b.HasPolicies, err = a.configure.Policies(); err != nil {
		return "", err
	}
	accs, err := a.accounts.List(ctx)
	if err != nil {
		return "", err
	}
	for _, acc := range accs {
		b.Accounts = append(b.Accounts, bundle.Account{Name: acc.Name, Role: acc.Role, Hash: acc.Hash, Created: acc.Created.UTC()})
	}
	if err := b.Sign(a.DataDir); err != nil {
		return "", err
	}
	out, err := json.MarshalIndent(b, "", "  ")
	return string(out), err
}

// ConfigImport is config import: the signature verified and every part
// validated before anything changes; then the settings and policies (one
// reload) and the accounts.
func (a *Appliance) ConfigImport(ctx context.Context, data string) (cli.Done, error) {
	b, own, err := bundle.Read([]byte(data), a.DataDir)
	if err != nil {
		return cli.Done{}, err
	}
	if err := b.Validate(); err != nil {
		return cli.Done{}, fmt.Errorf("nothing imported:\n%w", err)
	}
	vals, _ := settings.Parse("settings (in the bundle)", []byte(b.Settings)) // Validate read it
	signer := "this appliance"
	if !own {
		signer = "another appliance, key " + bundle.Fingerprint(b.Signer)
	}
	ch, err := a.configure.Import(vals, []byte(b.Policies), b.HasPolicies)
	if err != nil {
		return cli.Done{}, err
	}
	var accs []store.Account
	for _, acc := range b.Accounts {
		accs = append(accs, store.Account{Name: acc.Name, Role: acc.Role, Hash: acc.Hash, Created: acc.Created})
	}
	if err := a.accounts.Import(ctx, accs); err != nil {
		return cli.Done{}, fmt.Errorf("settings and policies imported, the accounts not: %w", err)
	}
	msg := fmt.Sprintf("imported the configuration %s exported from %s at %s (signed by %s): %s; %d accounts",
		b.By, b.Host, b.Exported.Format(time.RFC3339), signer, ch.Message, len(accs))
	return cli.Done{OK: true, Message: msg, Before: ch.Before, After: ch.After}, nil
}

// FilesDir holds the files an administrator put on the appliance (file
// put) for settings to name.
const FilesDir = "files"

var fileName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Files is show files.
func (a *Appliance) Files(ctx context.Context) ([]cli.FileInfo, error) {
	dir := filepath.Join(a.DataDir, FilesDir)
	es, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return []cli.FileInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []cli.FileInfo{}
	for _, e := range es {
		if !e.Type().IsRegular() || !fileName.MatchString(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		st, err := e.Info()
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		out = append(out, cli.FileInfo{Name: e.Name(), Path: path, Size: int64(len(data)), Modified: timeText(st.ModTime()),
			SHA256: hex.EncodeToString(sum[:])})
	}
	return out, nil
}

// FilePut is file put: the file replaced whole (durably), readable by the
// daemon only.
func (a *Appliance) FilePut(ctx context.Context, name, data string) (cli.Done, error) {
	if !fileName.MatchString(name) {
		return cli.Done{}, fmt.Errorf("a file name is 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
	}
	dir := filepath.Join(a.DataDir, FilesDir)
	if err := durable.PrivateDir(dir); err != nil {
		return cli.Done{}, err
	}
	path := filepath.Join(dir, name)
	if err := durable.WriteFile(path, []byte(data), 0o600); err != nil {
		return cli.Done{}, err
	}
	sum := sha256.Sum256([]byte(data))
	return cli.Done{OK: true, Message: fmt.Sprintf("stored %s (%d bytes, SHA-256 %s); a setting names it by that path", path, len(data),
		hex.EncodeToString(sum[:8]))}, nil
}

// FileDelete is file delete.
func (a *Appliance) FileDelete(ctx context.Context, name string) error {
	if !fileName.MatchString(name) {
		return fmt.Errorf("no file %q", name)
	}
	if err := os.Remove(filepath.Join(a.DataDir, FilesDir, name)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no file %q", name)
		}
		return err
	}
	return nil
}

// Stats is show stats.
func (a *Appliance) Stats(ctx context.Context, since, until time.Time, bucket time.Duration) (*cli.Stats, error) {
	st, err := a.db.Stats(ctx, since, until, bucket)
	if err != nil {
		return nil, err
	}
	out := &cli.Stats{Since: timeText(since), Until: timeText(until), BucketSeconds: int64(bucket / time.Second),
		Buckets: make([]cli.StatsBucket, len(st.Buckets))}
	for i, b := range st.Buckets {
		out.Buckets[i] = cli.StatsBucket{Unix: since.Add(time.Duration(i) * bucket).Unix(), High: b["high"], Medium: b["medium"],
			Low: b["low"], Unrated: b["unrated"]}
	}
	for _, l := range []struct {
		in  []store.Count
		out *[]cli.Count
	}{{st.Threats, &out.Threats}, {st.Recipients, &out.Recipients}, {st.Sources, &out.Sources}} {
		*l.out = make([]cli.Count, len(l.in))
		for i, c := range l.in {
			(*l.out)[i] = cli.Count(c)
		}
	}
	return out, nil
}

// Lists is show lists.
func (a *Appliance) Lists(ctx context.Context) ([]cli.ListInfo, error) {
	var out []cli.ListInfo
	for _, key := range configure.ListKeys() {
		entries, err := a.configure.ListEntries(key)
		if err != nil {
			return nil, err
		}
		k, _ := settings.Lookup(key)
		if entries == nil {
			entries = []string{}
		}
		out = append(out, cli.ListInfo{Key: key, Doc: k.Doc, Types: configure.ListTypes(key), Entries: entries})
	}
	return out, nil
}

// ListExport is list export KEY.
func (a *Appliance) ListExport(ctx context.Context, key string) (string, error) {
	return a.configure.ExportList(key)
}

// ListImport is list import KEY [replace].
func (a *Appliance) ListImport(ctx context.Context, key, csv string, replace bool) (cli.Done, error) {
	c, err := a.configure.ImportList(key, csv, replace)
	if err != nil {
		return cli.Done{}, err
	}
	return cli.Done{OK: true, Message: c.Message, Before: c.Before, After: c.After}, nil
}
