package settings

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailinspector/internal/services"
)

func TestDefaultsBuildAndFirstStartWritesADocumentedFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode != "mta" || s.SMTP.Listen != "127.0.0.1:2525" || s.Limits.MaxMessageBytes != 52428800 ||
		s.Delivery.QueueLifetime != 120*time.Hour || len(s.Delivery.RetryIntervals) != 8 || s.SMTP.BareLF != "reject" {
		t.Fatalf("defaults: %+v", s)
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !strings.Contains(string(data), "#"+k.Name+" = "+k.Default+"\n") {
			t.Errorf("default file lacks %s", k.Name)
		}
		if k.Doc == "" {
			t.Errorf("%s has no documentation", k.Name)
		}
		if !strings.Contains(Describe(), k.Name+"\n") {
			t.Errorf("describe lacks %s", k.Name)
		}
	}
}

func TestEveryErrorIsListedWithItsLine(t *testing.T) {
	dir := t.TempDir()
	file := "# comment\nmode = relay\nsmtp.listen = nowhere\nno equals sign\nfoo.bar = 1\nmode = bcc\nsmtp.max_recipients = -3\n"
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir, map[string]string{"delivery.tls": "sometimes", "nonsense": "1"})
	if err == nil {
		t.Fatal("bad settings loaded")
	}
	msg := err.Error()
	for _, want := range []string{
		"settings.conf:4: want key = value",
		`settings.conf:5: unknown key "foo.bar"`,
		"settings.conf:6: mode is already set on line 2",
		`mode = "relay": want one of mta, bcc`,
		`smtp.listen = "nowhere": want host:port`,
		`smtp.max_recipients = "-3": want a whole number from 1 to 100000`,
		`delivery.tls = "sometimes": want one of opportunistic, required, none`,
		"--set nonsense: unknown key",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors lack %q:\n%s", want, msg)
		}
	}
	if n := len(err.(Errors)); n != 8 {
		t.Errorf("%d errors, want 8:\n%s", n, msg)
	}
}

func TestOverridesAndValueForms(t *testing.T) {
	s, err := Load(t.TempDir(), map[string]string{
		"delivery.relay": "mx", "smtp.trusted_networks": "10.0.0.0/8, 192.0.2.7,2001:db8::/32",
		"smtp.accepted_domains": "Example.COM,.corp.example", "analysis.workers": "3", "engine.clamd": "unix:/run/clamav/clamd.ctl",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Delivery.MX || s.Delivery.Relay != nil {
		t.Fatalf("relay mx: %+v", s.Delivery)
	}
	if got := len(s.SMTP.TrustedNetworks); got != 3 || s.SMTP.TrustedNetworks[1].String() != "192.0.2.7/32" {
		t.Fatalf("trusted %v", s.SMTP.TrustedNetworks)
	}
	if strings.Join(s.SMTP.AcceptedDomains, ",") != "example.com,.corp.example" || s.Analysis.Workers != 3 {
		t.Fatalf("domains %v workers %d", s.SMTP.AcceptedDomains, s.Analysis.Workers)
	}
	s, err = Load(t.TempDir(), map[string]string{"delivery.relay": "a.example:25, b.example:2525"})
	if err != nil || strings.Join(s.Delivery.Relay, " ") != "a.example:25 b.example:2525" {
		t.Fatalf("smarthosts %v %v", s.Delivery.Relay, err)
	}
}

func TestUpdateKeepsCommentsHistoryAndRollsBack(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir, nil); err != nil {
		t.Fatal(err)
	}
	if err := Update(dir, map[string]string{"mode": "bcc", "smtp.max_recipients": "50"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	if !strings.Contains(string(data), "\nmode = bcc\n") || !strings.Contains(string(data), "# Deployment mode") {
		t.Fatalf("updated file:\n%s", data)
	}
	if err := Update(dir, map[string]string{"mode": "nonsense"}); err == nil {
		t.Fatal("an invalid update was written")
	}
	s, err := Load(dir, nil)
	if err != nil || s.Mode != "bcc" || s.SMTP.MaxRecipients != 50 {
		t.Fatalf("after update: %v %+v", err, s)
	}
	if err := Update(dir, map[string]string{"mode": "mta"}); err != nil {
		t.Fatal(err)
	}
	if h, _ := History(dir); len(h) != 2 {
		t.Fatalf("history %v", h)
	}
	if err := Rollback(dir); err != nil {
		t.Fatal(err)
	}
	if s, _ := Load(dir, nil); s.Mode != "bcc" {
		t.Fatalf("rollback gave mode %s", s.Mode)
	}
	for i := 0; i < 15; i++ {
		if err := Update(dir, map[string]string{"smtp.max_recipients": string(rune('1' + i%9))}); err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := History(dir); len(h) != keepOld {
		t.Fatalf("kept %d versions, want %d", len(h), keepOld)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(DefaultFile()))
	f.Add([]byte("mode = bcc\nsmtp.listen=[::1]:25\n# x\n = \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vals, err := Parse("f", data)
		if err != nil {
			if _, ok := err.(Errors); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		Build(vals) // must not panic
	})
}

// The console runs as root and edits the settings of a daemon that runs as
// its own user: what it writes must stay readable by that user (the image
// once came up from its first-boot wizard with a daemon that could not read
// its own settings).
func TestRootWritesSettingsAsTheDataDirectorysOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	dir := t.TempDir()
	const uid, gid = 65534, 65534
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := Update(dir, map[string]string{"hostname": "mx1.example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := Update(dir, map[string]string{"hostname": "mx2.example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := Rollback(dir); err != nil {
		t.Fatal(err)
	}
	hist, err := History(dir)
	if err != nil || len(hist) == 0 {
		t.Fatalf("history %v, %v", hist, err)
	}
	for _, p := range append([]string{filepath.Join(dir, FileName), filepath.Join(dir, HistoryDir)}, hist...) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != uid || st.Gid != gid {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
	}
}

// Links go to the sandbox only with a way to the web, and that way listens
// on the host's sandbox address.
func TestSandboxLinksWantAProxy(t *testing.T) {
	for _, c := range []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"sandbox.urls": "suspicious"}, "sandbox.urls wants the sandbox's way to the web"},
		{map[string]string{"sandbox.proxy": "direct"}, "set sandbox.fakenet too"},
		{map[string]string{"sandbox.proxy_samples": "true"}, "sandbox.proxy_samples gives files sandbox.proxy, which is off"},
		{map[string]string{"sandbox.proxy": "https://proxy.example:3128", "sandbox.fakenet": "10.77.0.1"}, "want off, direct or http://host:port"},
		{map[string]string{"sandbox.proxy_allow": "10.1.0.0/16,intranet"}, `"intranet" is not an address or network`},
	} {
		_, err := Load(t.TempDir(), c.set)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.set, err, c.want)
		}
	}
	s, err := Load(t.TempDir(), map[string]string{"sandbox.urls": "unrated", "sandbox.proxy": "http://u:p@proxy.example:3128",
		"sandbox.fakenet": "10.77.0.1", "sandbox.proxy_allow": "10.1.2.3/16"})
	if err != nil || s.Sandbox.URLs != "unrated" || s.Sandbox.ProxyAllow[0].String() != "10.1.0.0/16" || s.Sandbox.ProxyPort != 3128 {
		t.Fatalf("%v %+v", err, s.Sandbox)
	}
}

// TestEveryCloudServiceIsDescribed: each of the twelve services has its
// switch, its deadline and a description (settings describe would read
// "Use ." otherwise).
func TestEveryCloudServiceIsDescribed(t *testing.T) {
	if len(services.Cloud) != 12 {
		t.Fatalf("%d cloud services, want twelve", len(services.Cloud))
	}
	for _, name := range services.Cloud {
		if serviceDoc[name] == "" {
			t.Errorf("%s has no description", name)
		}
		for _, k := range []string{"services." + name + ".enabled", "services." + name + ".deadline"} {
			if _, ok := lookupKey(k); !ok {
				t.Errorf("no key %s", k)
			}
		}
	}
}

// TestSettingsDocIsCurrent: docs/settings.md is the keys table as
// Markdown. MAILINSPECTOR_UPDATE_DOCS=1 (make docs) writes it instead.
func TestSettingsDocIsCurrent(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "settings.md")
	want := Markdown()
	if os.Getenv("MAILINSPECTOR_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("docs/settings.md is stale: run make docs")
	}
}
