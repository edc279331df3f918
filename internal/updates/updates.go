// Package updates holds the appliance's scheduled talks with the hub's
// operational services: the update check, the licence check (and its cache),
// the time-of-click check and the Smart Feedback flush. Each runs under the
// service contract (internal/services): when its service is out of reach it
// is skipped and says so, and what already works keeps working.
package updates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/services"
	"mailinspector/internal/store"
)

// LicenceFile caches, in the data directory, the last licence the hub
// confirmed, so that scanning goes on with it while the hub is out of
// reach.
const LicenceFile = "licence.json"

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
	c.Updates()
	c.Licence()
}

// Updates asks the hub what is newest; the current patterns stay in use
// whatever the answer.
func (c *Checks) Updates() {
	cl := c.Services.Get(services.Updates)
	if unused(cl) {
		return
	}
	ans, err := services.Call(c.Ctx, cl, "", func(ctx context.Context) (hubapi.UpdatesAnswer, bool, error) {
		var ans hubapi.UpdatesAnswer
		err := c.Hub.Get(ctx, hubapi.PathUpdates, map[string][]string{"current": {c.Version}}, &ans)
		return ans, true, err
	})
	if err != nil {
		c.Log.Warn("update check skipped; current patterns and engines stay in use", "err", err)
		return
	}
	c.Log.Info("update check", "latest", ans.Latest, "available", ans.Available)
}

// Licence asks the hub for the licence and caches what it confirms.
func (c *Checks) Licence() {
	cl := c.Services.Get(services.Licence)
	if unused(cl) {
		return
	}
	ans, err := services.Call(c.Ctx, cl, "", func(ctx context.Context) (json.RawMessage, bool, error) {
		var ans json.RawMessage
		err := c.Hub.Get(ctx, hubapi.PathLicence, nil, &ans)
		return ans, true, err
	})
	if err != nil {
		c.Log.Warn("licence check skipped; the cached licence stays in force", "err", err)
		return
	}
	path := filepath.Join(c.DataDir, LicenceFile)
	if err := os.WriteFile(path+".tmp", ans, 0o640); err == nil {
		os.Rename(path+".tmp", path)
	}
}

// unused says whether a scheduled check has nothing to do: its service is
// disabled or not configured (the status says so already).
func unused(c *services.Client) bool {
	err := c.Usable()
	return errors.Is(err, services.ErrDisabled) || errors.Is(err, services.ErrNotConfigured)
}

// LicenceState is what the cached licence says (show status): the hub's
// state and expiry, or that none was confirmed yet.
func (c *Checks) LicenceState() string {
	b, err := os.ReadFile(filepath.Join(c.DataDir, LicenceFile))
	if err != nil {
		return "not confirmed by the hub yet"
	}
	var l hubapi.LicenceAnswer
	if err := json.Unmarshal(b, &l); err != nil || l.State == "" {
		return "cached licence unreadable"
	}
	return fmt.Sprintf("%s until %s (as the hub last confirmed)", l.State, l.Expires.Format("2006-01-02"))
}
