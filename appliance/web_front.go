package appliance

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// webFront is the console's listener and HTTPS server, kept across
// settings reloads: a reload (every commit from the console is one) stops
// the appliance and starts a new one, and a browser must not find the
// console gone in between. The reload pauses the front (requests wait for
// the new console, at most reloadWait), the new appliance's startWeb
// resumes it with its console and certificate. A front is per data
// directory; it closes when the daemon stops or web.listen changes.
type webFront struct {
	listen string
	srv    *http.Server
	addr   net.Addr

	mu       sync.Mutex
	h        http.Handler  // nil while paused
	tls      *tls.Config   // the current certificate's
	ready    chan struct{} // closed when a console is behind the front
	inflight int           // requests the console behind is serving
	drained  chan struct{} // closed when inflight reaches 0 during a pause
}

// reloadWait bounds how long a request waits for a reload to end.
const reloadWait = 30 * time.Second

var webFronts = struct {
	sync.Mutex
	byDir map[string]*webFront
}{byDir: map[string]*webFront{}}

func (f *webFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	timeout := time.NewTimer(reloadWait)
	defer timeout.Stop()
	for {
		f.mu.Lock()
		h, ready := f.h, f.ready
		if h != nil {
			f.inflight++
		}
		f.mu.Unlock()
		if h != nil {
			defer f.done()
			h.ServeHTTP(w, r)
			return
		}
		select {
		case <-ready:
		case <-timeout.C:
			http.Error(w, "the appliance is reloading its settings; try again in a moment", http.StatusServiceUnavailable)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// done ends a request; the last one a pause waits for says so.
func (f *webFront) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inflight--
	if f.inflight == 0 && f.drained != nil {
		close(f.drained)
		f.drained = nil
	}
}

// webFrontFor is the data directory's front on listen, made when there is
// none (a front on another address is closed first).
func webFrontFor(dataDir, listen string, cfg *tls.Config, log *slog.Logger) (*webFront, error) {
	webFronts.Lock()
	defer webFronts.Unlock()
	if f := webFronts.byDir[dataDir]; f != nil {
		if f.listen == listen {
			return f, nil
		}
		f.srv.Close()
		delete(webFronts.byDir, dataDir)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	f := &webFront{listen: listen, addr: ln.Addr(), ready: make(chan struct{}), tls: cfg}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		TLSConfig: &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.tls, nil
		}},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)} // TLS handshakes of scanners are no news
	webFronts.byDir[dataDir] = f
	go f.srv.ServeTLS(ln, "", "")
	return f, nil
}

// resume puts a console behind the front.
func (f *webFront) resume(h http.Handler, cfg *tls.Config) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.h, f.tls, f.drained = h, cfg, nil
	select {
	case <-f.ready:
	default:
		close(f.ready)
	}
}

// pause takes the console away for a reload: new requests wait, those in
// progress finish first (at most ten seconds).
func (f *webFront) pause() {
	f.mu.Lock()
	f.h = nil
	f.ready = make(chan struct{})
	var drained chan struct{}
	if f.inflight > 0 {
		drained = make(chan struct{})
		f.drained = drained
	}
	f.mu.Unlock()
	if drained == nil {
		return
	}
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
	}
}

// closeWebFront closes the data directory's front, if any.
func closeWebFront(dataDir string) {
	webFronts.Lock()
	defer webFronts.Unlock()
	if f := webFronts.byDir[dataDir]; f != nil {
		f.srv.Close()
		delete(webFronts.byDir, dataDir)
	}
}
