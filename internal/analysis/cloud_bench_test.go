package analysis

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailinspector/internal/archive"
	"mailinspector/internal/hub"
	"mailinspector/internal/message"
	"mailinspector/internal/services"
)

// BenchmarkCloudStages is the cost of the hub services inside one process: the
// analysis of the bench corpus with every hub service answering from a real
// hub on loopback (its project test feeds), against the same with no hub
// configured. Run with -cpu 1, ns/op is close to the CPU both halves (the
// appliance's client and the hub) spend per message; a CPU profile tells
// them apart.
func BenchmarkCloudStages(b *testing.B) {
	msgs := benchCorpus(b)
	for _, mode := range []string{"no-hub", "hub"} {
		b.Run(mode, func(b *testing.B) {
			base, key := "", ""
			if mode == "hub" {
				// MAILINSPECTOR_BENCH_HUB=URL,KEY asks a hub in another
				// process instead, so that the profile is the appliance's
				// half alone.
				if u, k, ok := strings.Cut(os.Getenv("MAILINSPECTOR_BENCH_HUB"), ","); ok {
					base, key = u, k
				} else {
					base, key = startBenchHub(b)
				}
			}
			h := services.NewHub(base, key)
			// Fresh clients (empty caches) for every pass over the corpus:
			// the harness sends each message once, so only what repeats
			// within a pass (sender domains, link hosts) is a cache hit.
			pipeline := func() *Pipeline {
				var cs []*services.Client
				for _, name := range services.All[:12] {
					cs = append(cs, services.New(services.Config{Name: name, Enabled: true, Configured: h.Configured(),
						TTL: time.Hour, NegativeTTL: 10 * time.Minute}))
				}
				cloud := Cloud{Hub: h, Services: services.NewRegistry(cs...), Limits: message.DefaultLimits}
				return &Pipeline{StageTimeout: time.Minute, Stages: []Stage{
					Extraction{Limits: message.DefaultLimits, Archives: archive.DefaultLimits},
					JointLookup{Cloud: cloud, Group: Concurrent{
						Sequence{KnownGood{Cloud: cloud}, FileCensus{Cloud: cloud}, PredictiveML{Cloud: cloud}},
						WebReputation{Cloud: cloud}, WebInspection{Cloud: cloud}, DomainCensus{Cloud: cloud},
					}},
					ThreatConnect{Cloud: cloud},
				}}
			}
			var p *Pipeline
			scratch := b.TempDir()
			b.ReportAllocs()
			benchRequests.Store(0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%len(msgs) == 0 {
					p = pipeline()
				}
				m := benchMessage(scratch, msgs[i%len(msgs)])
				rep := p.Run(context.Background(), m)
				m.Parts.Close()
				for _, e := range rep.Trail {
					if mode == "hub" && e.Outcome == OutcomeSkipped {
						b.Fatalf("%s skipped with the hub up: %s", e.Stage, e.Detail)
					}
				}
			}
			b.ReportMetric(float64(benchRequests.Load())/float64(b.N), "requests/op")
		})
	}
}

// benchRequests counts the requests the bench hub served.
var benchRequests atomic.Int64

// startBenchHub serves a hub with the project's test feeds on loopback.
func startBenchHub(b *testing.B) (base, key string) {
	dir := b.TempDir()
	st, err := hub.OpenStore(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for kind, file := range map[string]string{"urlhaus-csv": "urlhaus.csv", "malwarebazaar-csv": "malwarebazaar.csv",
		"openphish-txt": "openphish.txt", "phishtank-csv": "phishtank.csv", "spamhaus-drop-json": "drop_v4.json",
		"known-good-sha256": "known-good.txt"} {
		if _, err := st.Import(ctx, kind, filepath.Join("..", "hub", "testdata", file)); err != nil {
			b.Fatal(err)
		}
	}
	if key, err = st.AddKey(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	srv, err := hub.NewServer(st, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		benchRequests.Add(1)
		h.ServeHTTP(w, r)
	}))
	b.Cleanup(hs.Close)
	return hs.URL, key
}
