package siem

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Config is what the settings say of SIEM export.
type Config struct {
	Targets    []Target
	Product    Product
	CAFile     string   // for tls:// collectors; empty: the system's CAs
	QueueBytes int64    // per collector
	Events     []string // the kinds sent; empty: all
	// Settle and the back-off bounds of every collector (Collector);
	// zero: 2 s, 1 s and 60 s.
	Settle, MinBackoff, MaxBackoff time.Duration
}

// Exporter formats events for every collector and keeps each collector's
// queue. A nil Exporter (no collector configured) takes events and does
// nothing.
type Exporter struct {
	product    Product
	wanted     map[string]bool
	collectors []*Collector
	in         chan *Event
	lost       atomic.Uint64 // events the full buffer turned away
	log        *slog.Logger
	wg         sync.WaitGroup
}

// inBuffer is how many events may wait for the queue writer: Emit never
// blocks the mail path.
const inBuffer = 4096

// Open opens a queue under dir for each target. Queue directories of
// collectors no longer configured are removed: their records were for a
// collector nobody wants fed any more.
func Open(dir string, cfg Config, log *slog.Logger) (*Exporter, error) {
	if len(cfg.Targets) == 0 {
		os.RemoveAll(dir)
		return nil, nil
	}
	cfg.Settle = or(cfg.Settle, 2*time.Second)
	cfg.MinBackoff = or(cfg.MinBackoff, time.Second)
	cfg.MaxBackoff = or(cfg.MaxBackoff, time.Minute)
	x := &Exporter{product: cfg.Product, in: make(chan *Event, inBuffer), log: log}
	if len(cfg.Events) > 0 {
		x.wanted = map[string]bool{}
		for _, k := range cfg.Events {
			x.wanted[k] = true
		}
	}
	var tlsCfg *tls.Config
	keep := map[string]bool{}
	for _, t := range cfg.Targets {
		if t.Network == "tls" && tlsCfg == nil {
			var err error
			if tlsCfg, err = clientTLS(cfg.CAFile); err != nil {
				return nil, err
			}
		}
		q, err := OpenQueue(filepath.Join(dir, t.dir()), cfg.QueueBytes)
		if err != nil {
			x.Close()
			return nil, fmt.Errorf("siem queue for %s: %w", t.Raw, err)
		}
		keep[t.dir()] = true
		c := &Collector{Target: t, Queue: q, Settle: cfg.Settle, MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff, Log: log}
		if t.Network == "tls" {
			c.TLS = tlsCfg.Clone()
			c.TLS.ServerName, _, _ = net.SplitHostPort(t.Addr)
		}
		x.collectors = append(x.collectors, c)
	}
	if es, err := os.ReadDir(dir); err == nil {
		for _, e := range es {
			if !keep[e.Name()] {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
	return x, nil
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func clientTLS(caFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return c, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("siem.ca_file: %w", err)
	}
	c.RootCAs = x509.NewCertPool()
	if !c.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("siem.ca_file %s: no certificate in it", caFile)
	}
	return c, nil
}

// Wants says whether events of a kind are sent (so that a caller can skip
// building them).
func (x *Exporter) Wants(kind string) bool {
	return x != nil && (x.wanted == nil || x.wanted[kind])
}

// Emit queues an event for every collector. It never blocks: past the
// buffer, events are counted as lost (a writer that far behind means the
// data disk is failing).
func (x *Exporter) Emit(e *Event) {
	if !x.Wants(e.Kind) {
		return
	}
	if e.ID == "" {
		var b [12]byte
		rand.Read(b[:])
		e.ID = hex.EncodeToString(b[:])
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	select {
	case x.in <- e:
	default:
		x.lost.Add(1)
	}
}

// Run writes events into the queues and runs the collectors until ctx
// ends; then it writes what is buffered and closes the queues.
func (x *Exporter) Run(ctx context.Context) {
	if x == nil {
		return
	}
	for _, c := range x.collectors {
		x.wg.Add(1)
		go func() {
			defer x.wg.Done()
			c.Run(ctx)
		}()
	}
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	for {
		select {
		case e := <-x.in:
			x.write(e)
		case <-flush.C:
			for _, c := range x.collectors {
				if err := c.Queue.Sync(); err != nil {
					x.log.Error("siem: sync queue", "collector", c.Name(), "err", err)
				}
			}
		case <-ctx.Done():
			for {
				select {
				case e := <-x.in:
					x.write(e)
					continue
				default:
				}
				break
			}
			x.wg.Wait()
			x.Close()
			return
		}
	}
}

func (x *Exporter) write(e *Event) {
	for _, c := range x.collectors {
		if err := c.Queue.Append(x.product.Format(c.Format, e)); err != nil {
			x.log.Error("siem: queue event", "collector", c.Name(), "err", err)
		}
	}
}

// Close closes the queues (Run does when it ends).
func (x *Exporter) Close() {
	if x == nil {
		return
	}
	for _, c := range x.collectors {
		c.Queue.Close()
	}
}

// Stats reports every collector, and the events lost before any queue.
func (x *Exporter) Stats() (cs []CollectorStats, lost uint64) {
	if x == nil {
		return nil, 0
	}
	for _, c := range x.collectors {
		cs = append(cs, c.Stats())
	}
	return cs, x.lost.Load()
}
