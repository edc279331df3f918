package appliance

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/testutil"
)

// TestMessageMetrics: the metrics count the queue and the quarantine by
// state, messages by risk, and the age of the oldest message waiting for
// delivery.
func TestMessageMetrics(t *testing.T) {
	sink := testutil.NewSink(t)
	sink.Stop() // the downstream refuses: the clean message waits
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "delivery.retry_intervals": "1h",
		"policy.unrated": "deliver", "senders.blocked": "evil.example", "metrics.listen": "127.0.0.1:0"})
	addr := a.SMTPAddr().String()
	must(t, send(t, addr, "bob@example.org", []string{"alice@example.com"}, testMessage("waits", "")))
	must(t, send(t, addr, "x@evil.example", []string{"alice@example.com"}, testMessage("held", "")))
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + a.MetricsAddr().String() + "/metrics")
		must(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if strings.Contains(body, `mailinspector_messages{state="deferred"} 1`) && strings.Contains(body, `mailinspector_messages{state="quarantined"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed one deferred and one quarantined message:\n%s", grepLines(body, "mailinspector_messages"))
		}
	}
	for _, want := range []string{`mailinspector_messages_by_risk{risk="high"} 1`, `mailinspector_messages{state="delivered"} 0`,
		"mailinspector_bounced_total 0", `mailinspector_messages_by_threat{threat="`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, grepLines(body, "mailinspector_"))
		}
	}
	if strings.Contains(body, "mailinspector_queue_oldest_age_seconds 0\n") {
		t.Errorf("a message waits, yet its age is 0")
	}
}

// grepLines keeps the lines holding s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
