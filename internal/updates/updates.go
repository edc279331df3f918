// Package updates holds the appliance's scheduled talks with the hub's
// operational services: the update check, the licence check (and its cache),
// the time-of-click check and the Smart Feedback flush. Each runs under the
// service contract (internal/services): when its service is out of reach it
// is skipped and says so, and what already works keeps working.
package updates

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mailinspector/internal/durable"
	"mailinspector/internal/licence"
	"mailinspector/internal/updates/signed"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/services"
	"mailinspector/internal/store"
)

// Checks are the scheduled checks of one running appliance.
type Checks struct {
	Hub      *services.Hub
	Services *services.Registry
	DB       *store.DB
	DataDir  string
	Version  string // the appliance's, sent with the update check
	Log      *slog.Logger
	// Ctx ends when the appliance stops: a check waiting on a hub that does
	// not answer gives up then.
	Ctx context.Context

	// FeedbackMax bounds the Smart Feedback outbox (store.MaxOutbox; tests
	// set less); FeedbackDropped counts what the bound dropped.
	FeedbackMax     int
	FeedbackDropped atomic.Int64

	// Installer installs what the update check finds (nil: checks only
	// ask); updateMu keeps a scheduled check and update now apart.
	Installer *Installer
	updateMu  sync.Mutex
	// Book is the licence; an expired one stops updates.
	Book *licence.Book
	// SeedDir holds bundles installed at start for kinds with none
	// (updates.seed_dir).
	SeedDir string
}

// hubServices are the services the hub answers per message.
var hubServices = []string{services.CSSS, services.FileCensus, services.DomainCensus, services.ML, services.ThreatConnect,
	services.WebInspection, services.WebReputation}

// AtStart asks the hub once when the daemon starts, so that show services
// says whether it answers before any mail has needed it, and runs the
// scheduled checks once.
func (c *Checks) AtStart(ctx context.Context) {
	if c.Hub.Configured() {
		pctx, cancel := context.WithTimeout(ctx, c.Services.Get(services.WebReputation).Deadline())
		err := c.Hub.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		for _, name := range hubServices {
			if cl := c.Services.Get(name); cl.Usable() == nil {
				cl.Record(err)
			}
		}
		if err != nil {
			c.Log.Warn("hub out of reach at start; its steps are skipped until it answers", "err", err)
		}
	}
	if c.Installer != nil {
		c.Installer.Seed(ctx, c.SeedDir)
	}
	c.Licence()
	c.Updates()
}

// Updates asks the hub which bundles it offers and installs each one newer
// than what is installed; the current patterns stay in use whatever
// happens. What it found is kept for show updates (CheckState).
func (c *Checks) Updates() {
	cl := c.Services.Get(services.Updates)
	if !cl.InUse() || c.Installer == nil {
		return
	}
	c.updateMu.Lock()
	defer c.updateMu.Unlock()
	state := ReadCheckState(c.DataDir)
	state.LastCheck = time.Now().UTC()
	if c.Book != nil {
		if st := c.Book.State(); !st.Updates {
			state.LastError = "updates stopped: " + st.UpdatesStopped
			c.Log.Warn("update check not run: " + st.UpdatesStopped + "; mail flow and scanning go on with the last patterns")
			c.saveCheckState(state)
			return
		}
	}
	ans, err := services.Call(c.Ctx, cl, "", func(ctx context.Context) (hubapi.UpdatesAnswer, bool, error) {
		var ans hubapi.UpdatesAnswer
		err := c.Hub.Get(ctx, hubapi.PathUpdates, map[string][]string{"current": {c.Version}}, &ans)
		return ans, true, err
	})
	if err == nil {
		err = c.installOffered(cl, ans)
	}
	if err != nil {
		state.LastError = err.Error()
		c.Log.Warn("update check: current patterns and engines stay in use", "err", err)
	} else {
		state.LastSuccess, state.LastError = state.LastCheck, ""
	}
	c.saveCheckState(state)
}

// installOffered takes the hub's keyring document when it is newer and
// installs each offered bundle newer than its kind's high-water mark. A
// bundle that is refused or fails is in the history; the check itself
// fails only when the hub could not be read.
func (c *Checks) installOffered(cl *services.Client, ans hubapi.UpdatesAnswer) error {
	in := c.Installer
	if len(ans.Keyring) > 0 && string(ans.Keyring) != "null" {
		if _, err := in.AcceptKeyring(c.Ctx, ans.Keyring, "hub"); err != nil {
			c.Log.Warn("update check: the hub's keyring document refused", "err", err)
		}
	}
	for _, ref := range ans.Bundles {
		st, known, err := c.DB.UpdateKindOf(c.Ctx, ref.Kind)
		if err != nil {
			return err
		}
		if known && ref.Version <= st.HighWater {
			continue
		}
		if _, err := in.handler(ref.Kind); err != nil {
			continue // a kind this appliance does not install
		}
		f, err := c.download(ref)
		cl.Record(err)
		if err != nil {
			return err
		}
		in.Install(c.Ctx, f, "hub")
		f.Close()
		os.Remove(f.Name())
	}
	return nil
}

// maxDownload bounds one bundle (the official ClamAV main database is
// about 170 MB).
const maxDownload = 2 << 30

// download fetches a bundle into the updates folder and checks it is the
// size and SHA-256 the index gave (the signature is checked by Install).
func (c *Checks) download(ref hubapi.BundleRef) (*os.File, error) {
	if !signed.ValidName(ref.Name) {
		return nil, fmt.Errorf("the hub offers a bundle named %q", ref.Name)
	}
	dir := filepath.Join(c.DataDir, "updates")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".download-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) { f.Close(); os.Remove(f.Name()); return nil, err }
	ctx, cancel := context.WithTimeout(c.Ctx, 15*time.Minute)
	defer cancel()
	h := sha256.New()
	if err := c.Hub.Download(ctx, hubapi.PathBundles+ref.Name, io.MultiWriter(f, h), maxDownload); err != nil {
		return fail(err)
	}
	if n, _ := f.Seek(0, io.SeekCurrent); n != ref.Size || hex.EncodeToString(h.Sum(nil)) != ref.SHA256 {
		return fail(fmt.Errorf("bundle %s: %d bytes, not the size or SHA-256 the hub's index gave", ref.Name, n))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	return f, nil
}

// CheckState is what the last update checks found.
type CheckState struct {
	LastCheck   time.Time `json:"last_check"`
	LastSuccess time.Time `json:"last_success"`
	LastError   string    `json:"last_error,omitempty"`
}

const checkFile = "check.json"

// ReadCheckState reads what the last update checks found in a data
// directory.
func ReadCheckState(dataDir string) CheckState {
	var s CheckState
	b, err := os.ReadFile(filepath.Join(dataDir, "updates", checkFile))
	if err == nil {
		json.Unmarshal(b, &s)
	}
	return s
}

func (c *Checks) saveCheckState(s CheckState) {
	dir := filepath.Join(c.DataDir, "updates")
	os.MkdirAll(dir, 0o700)
	b, _ := json.Marshal(s)
	if err := durable.WriteFile(filepath.Join(dir, checkFile), b, 0o600); err != nil {
		c.Log.Error("update check state", "err", err)
	}
}

// Licence asks the hub for the newest activation code issued for this
// appliance and activates it when it is newer (a renewal); the first
// answer pins the key the hub signs codes with. When the hub is out of
// reach the licence in place stands and nothing else changes.
func (c *Checks) Licence() error {
	cl := c.Services.Get(services.Licence)
	if !cl.InUse() || c.Book == nil {
		return errors.New("the licence service is disabled or hub.url is not set")
	}
	chk := c.Book.LastCheck()
	chk.LastCheck, chk.Hub = time.Now().UTC(), ""
	ans, err := services.Call(c.Ctx, cl, "", func(ctx context.Context) (hubapi.LicenceAnswer, bool, error) {
		var ans hubapi.LicenceAnswer
		err := c.Hub.Get(ctx, hubapi.PathLicence, map[string][]string{"appliance": {c.Book.ID()}}, &ans)
		return ans, true, err
	})
	if err == nil {
		err = c.Book.PinIssuer(ans.IssuerKey)
	}
	if err == nil && ans.Code != "" {
		if cur, _ := c.Book.Licence(); cur == nil || cur.Serial != serialOf(ans.Code, c.Book) {
			if _, aerr := c.Book.Activate(ans.Code, "hub"); aerr != nil {
				c.Log.Warn("licence check: the hub's code was not taken", "err", aerr)
				chk.Hub = "the hub's code was not taken: " + aerr.Error()
			}
		}
	}
	if err != nil {
		chk.LastError = err.Error()
		c.Log.Warn("licence check skipped; the licence in place stands", "err", err)
	} else {
		chk.LastSuccess, chk.LastError = chk.LastCheck, ""
		if !strings.HasPrefix(chk.Hub, "the hub's code was not taken") {
			chk.Hub = "the hub's licence for " + c.Book.ID() + ": " + ans.State
		}
	}
	if serr := c.Book.SaveCheck(chk); serr != nil {
		c.Log.Error("licence check state", "err", serr)
	}
	return err
}

// serialOf is the serial of a code ("" when it does not verify).
func serialOf(code string, b *licence.Book) string {
	l, err := licence.Parse(code, b.Issuers())
	if err != nil {
		return ""
	}
	return l.Serial
}

// LicenceCheck runs the scheduled licence check (cron wants no result).
func (c *Checks) LicenceCheck() { c.Licence() }

// LicenceState is one line on the licence (show status).
func (c *Checks) LicenceState() string {
	if c.Book == nil {
		return "unknown"
	}
	st := c.Book.State()
	switch {
	case st.Licence != nil && st.Until.IsZero():
		return fmt.Sprintf("%s (%s, %d seats) since %s", st.Name, st.Licence.Edition, st.Licence.Seats, st.Licence.Expires.Format("2006-01-02"))
	case st.Licence != nil:
		return fmt.Sprintf("%s (%s, %d seats) until %s", st.Name, st.Licence.Edition, st.Licence.Seats, st.Until.Format("2006-01-02"))
	case !st.Until.IsZero():
		return fmt.Sprintf("%s until %s", st.Name, st.Until.Format("2006-01-02"))
	}
	return st.Name
}
