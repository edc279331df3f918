package appliance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"

	"mailinspector/internal/cli"
	"mailinspector/internal/store"
	"mailinspector/internal/updates"
)

// newInstaller is the installer of update bundles the settings describe.
func (a *Appliance) newInstaller() *updates.Installer {
	s := a.Settings
	in := &updates.Installer{DB: a.db, DataDir: a.DataDir, Log: a.Log, Version: Version, Keep: s.Updates.Keep,
		TrustedKeys: s.Updates.TrustedKeys, RootKeyring: s.Updates.RootKeyring}
	in.Lists = &updates.ListsKind{Dir: filepath.Join(a.DataDir, "updates"), Feed: a.listFeed}
	in.PolicyTemplates = &updates.TemplatesKind{Dir: filepath.Join(a.DataDir, "updates")}
	if s.Engine.ClamdDatabase != "" {
		in.ClamAV = &updates.ClamAVKind{Database: s.Engine.ClamdDatabase, Live: a.clamd}
	}
	return in
}

// scheduledUpdates runs the update check after a random pause of up to a
// tenth of the schedule's interval (6 minutes at most), so that appliances
// started together do not all ask the hub at the same second.
func (a *Appliance) scheduledUpdates() {
	jitter := 6 * time.Minute
	if sch, err := cron.ParseStandard(a.Settings.Schedules.Updates); err == nil {
		next := sch.Next(time.Now())
		jitter = min(jitter, sch.Next(next).Sub(next)/10)
	}
	select {
	case <-time.After(rand.N(jitter + 1)):
	case <-a.runCtx.Done():
		return
	}
	a.updates.Updates()
}

// Updates is show updates.
func (a *Appliance) Updates(ctx context.Context) (*cli.Updates, error) {
	kinds, err := a.db.UpdateKinds(ctx)
	if err != nil {
		return nil, err
	}
	in := a.updates.Installer
	out := &cli.Updates{Kinds: []cli.UpdateKind{}, Schedule: a.Settings.Schedules.Updates, TrustedKeys: []string{}, History: []cli.UpdateRecord{}}
	for _, k := range kinds {
		out.Kinds = append(out.Kinds, cli.UpdateKind{Kind: k.Kind, Channel: k.Channel, Installed: k.Live, HighWater: k.HighWater,
			Since: timeText(k.Since), KeyID: k.KeyID, Kept: in.Kept(k.Kind)})
	}
	cs := updates.ReadCheckState(a.DataDir)
	out.LastCheck, out.LastSuccess, out.LastError = timeText(cs.LastCheck), timeText(cs.LastSuccess), cs.LastError
	if t, err := in.Trust(); err == nil {
		out.TrustedKeys = append(out.TrustedKeys, t.Keys()...)
	} else {
		out.LastError = err.Error()
	}
	out.Keyring = in.KeyringVersion()
	if st := a.updates.Book.State(); !st.Updates {
		out.Stopped = st.UpdatesStopped + "; mail flow and scanning go on with the last patterns"
	}
	hist, err := a.db.UpdateHistory(ctx, 50)
	if err != nil {
		return nil, err
	}
	for _, h := range hist {
		out.History = append(out.History, cli.UpdateRecord{At: timeText(h.At), Kind: h.Kind, Version: h.Version,
			Source: h.Source, Outcome: h.Outcome, Detail: h.Detail})
	}
	return out, nil
}

// UpdateNow is update now: the scheduled check, at once.
func (a *Appliance) UpdateNow(ctx context.Context) (cli.Done, error) {
	since := time.Now()
	a.updates.Updates()
	cs := updates.ReadCheckState(a.DataDir)
	if cs.LastCheck.Before(since.Add(-time.Second)) {
		return cli.Done{}, errors.New("no check ran: the updates service is disabled or hub.url is not set (show services)")
	}
	if cs.LastError != "" {
		return cli.Done{}, fmt.Errorf("update check failed, the current patterns stay in use: %s", cs.LastError)
	}
	return a.updateDone(ctx, since, "update check done")
}

// updateDone sums up the history since a moment.
func (a *Appliance) updateDone(ctx context.Context, since time.Time, what string) (cli.Done, error) {
	hist, err := a.db.UpdateHistory(ctx, 50)
	if err != nil {
		return cli.Done{}, err
	}
	msg, ok := what, true
	for i := len(hist) - 1; i >= 0; i-- {
		h := hist[i]
		if h.At.Before(since) {
			continue
		}
		msg += fmt.Sprintf("\n%s %s %s", h.Kind, strconv.FormatUint(h.Version, 10), h.Outcome)
		if h.Detail != "" {
			msg += ": " + h.Detail
		}
		if h.Outcome != "installed" && h.Outcome != "rolled-back" {
			ok = false
		}
	}
	if msg == what {
		msg += ": nothing newer"
	}
	if !ok {
		return cli.Done{}, errors.New(msg)
	}
	return cli.Done{OK: true, Message: msg}, nil
}

// UpdateImport is update import FILE: a bundle (or a keyring document)
// from a file on the appliance, with the hub's checks.
func (a *Appliance) UpdateImport(ctx context.Context, path string) (cli.Done, error) {
	if st := a.updates.Book.State(); !st.Updates {
		return cli.Done{}, fmt.Errorf("updates are stopped: %s (show licence); the last patterns stay in use", st.UpdatesStopped)
	}
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return cli.Done{}, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return cli.Done{}, fmt.Errorf("%s is not a regular file", path)
	}
	var head [1]byte
	if n, _ := f.ReadAt(head[:], 0); n == 1 && head[0] == '{' {
		b, err := os.ReadFile(path)
		if err != nil {
			return cli.Done{}, err
		}
		newer, err := a.updates.Installer.AcceptKeyring(ctx, b, "import")
		if err != nil {
			return cli.Done{}, err
		}
		if !newer {
			return cli.Done{OK: true, Message: "keyring document not newer than the one in use: nothing changed"}, nil
		}
		return cli.Done{OK: true, Message: "keyring document installed"}, nil
	}
	m, err := a.updates.Installer.Install(ctx, f, "import")
	if err != nil {
		return cli.Done{}, fmt.Errorf("not installed, the live version stays: %w", err)
	}
	return cli.Done{OK: true, Message: fmt.Sprintf("%s version %d installed and live", m.Kind, m.Version)}, nil
}

// UpdateRollback is update rollback [KIND].
func (a *Appliance) UpdateRollback(ctx context.Context, kind string) (cli.Done, error) {
	if kind == "" {
		kinds, err := a.db.UpdateKinds(ctx)
		if err != nil {
			return cli.Done{}, err
		}
		var newest store.UpdateKind
		for _, k := range kinds {
			if k.Live != 0 && k.Since.After(newest.Since) {
				newest = k
			}
		}
		if newest.Kind == "" {
			return cli.Done{}, errors.New("no bundle is installed")
		}
		kind = newest.Kind
	}
	v, err := a.updates.Installer.Rollback(ctx, kind)
	if err != nil {
		return cli.Done{}, err
	}
	return cli.Done{OK: true, Message: fmt.Sprintf("%s version %d is live again (versions up to the highest seen are still refused from the feed)", kind, v)}, nil
}

// PolicyTemplates is show policy-templates.
func (a *Appliance) PolicyTemplates(ctx context.Context) ([]cli.PolicyTemplate, error) {
	ts, err := a.updates.Installer.Templates(ctx)
	if err != nil {
		return nil, err
	}
	out := []cli.PolicyTemplate{}
	for _, t := range ts {
		out = append(out, cli.PolicyTemplate{Name: t.Name, Version: t.Version, Text: t.Text})
	}
	return out, nil
}
