package appliance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/cli"
	"mailinspector/internal/settings"
	"mailinspector/internal/testutil"
)

// TestConfigurePoliciesFromStandardInput: ssh admin@host configure policies
// < policies.conf, as the built binary's shell: a file with errors is
// refused, every error with its line, and changes nothing; a good one is
// committed with its diff, applies without a restart (mail from a sender
// the new policy quarantines is held) and is audited before and after.
func TestConfigurePoliciesFromStandardInput(t *testing.T) {
	bin := buildBinary(t)
	sink := testutil.NewSink(t)
	dir := t.TempDir()
	must(t, settings.Update(dir, map[string]string{"delivery.relay": sink.Addr, "policy.unrated": "deliver"}))
	d := newChild(t, dir)
	d.start()
	defer d.stop()
	shell := func(stdin string, args ...string) (string, error) {
		return shellAcrossReloads(bin, dir, stdin, args...)
	}
	if out, _ := shell("", "-c", "show policies"); !strings.Contains(out, "the default policy applies") {
		t.Fatalf("show policies before: %s", out)
	}
	if out, err := shell("policy \"Broken\"\n  bogus line\n", "-c", "configure policies"); err == nil || !strings.Contains(out, "(from standard input):2: unknown word") {
		t.Fatalf("a broken file: %s %v", out, err)
	}
	good := "# hold everything for review\npolicy \"Hold all\"\n  none     quarantine\n  low      quarantine\n  medium   quarantine\n  high     quarantine\n  unrated  quarantine\n"
	out, err := shell(good, "-c", "configure policies")
	if err != nil || !strings.Contains(out, "policies committed") || !strings.Contains(out, "+ policy \"Hold all\"") {
		t.Fatalf("configure policies: %s %v", out, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		sendAcrossReloads(t, d.addr, "bob@example.org", []string{"alice@example.com"}, testMessage("held by the new policy", ""))
		var ms []cli.MessageSummary
		o, _ := shell("", "-o", "json", "-c", "show messages subject \"held by the new policy\" state quarantined")
		json.Unmarshal([]byte(o), &ms)
		if len(ms) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new policy did not apply within 15s")
		}
		time.Sleep(300 * time.Millisecond)
	}
	if out, _ := shell("", "-c", "show policies"); !strings.Contains(out, "Hold all") {
		t.Errorf("show policies after: %s", out)
	}
	var audit []cli.AuditRecord
	o, _ := shell("", "-o", "json", "-c", "show audit kind policies")
	must(t, json.Unmarshal([]byte(o), &audit))
	if len(audit) != 2 || !audit[0].OK || audit[0].After != good || !strings.Contains(audit[0].Before, "default policy") || audit[1].OK {
		t.Fatalf("audit %+v", audit)
	}
}
