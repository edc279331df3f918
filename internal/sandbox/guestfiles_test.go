package sandbox

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"strings"
	"testing"
	"text/template"

	"mailinspector/internal/testutil"
)

// The guest's port-25 redirect, as guest-setup writes it, is a ruleset
// nft accepts (checked, not applied). A wrong priority name cost a TCG
// run to find: the guest's boot log does not show guest-setup's errors.
func TestGuestSetupRedirectRuleset(t *testing.T) {
	nft := testutil.RequireTool(t, "nft")
	if os.Geteuid() != 0 {
		t.Skip("nft checks a ruleset through netlink, which wants root")
	}
	b, err := os.ReadFile("../../packer/sandbox-guest/mailinspector-guest-setup")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "<<EOF")
	j := strings.Index(s, "\nEOF\n")
	if i < 0 || j < i {
		t.Fatal("no nft ruleset in guest-setup")
	}
	rules := s[strings.IndexByte(s[i:], '\n')+i+1 : j+1]
	rules = strings.NewReplacer("$gw", "10.77.0.1", "$smtp", "2525").Replace(rules)
	cmd := exec.Command(nft, "-c", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft refuses the ruleset: %v\n%s\n%s", err, out, rules)
	}
}

// The Linux guest's domain template renders to XML that carries the
// agent's key and address, the fake internet's SMTP port and a display.
func TestLinuxDomainTemplate(t *testing.T) {
	b, err := os.ReadFile("../../packer/sandbox-guest/linux-domain.xml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New("d").Option("missingkey=error").Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, map[string]any{"Name": "mi-sbx-linux-0", "Index": 0, "MAC": "52:54:00:4d:05:00",
		"AgentKey": "abcd", "Agent": "10.77.0.10:7480", "Disk": "/x/0.qcow2", "SMTPPort": 2525}); err != nil {
		t.Fatal(err)
	}
	var dom struct {
		Name    string   `xml:"name"`
		Entries []string `xml:"sysinfo>oemStrings>entry"`
		Video   []struct {
			Model struct {
				Type string `xml:"type,attr"`
			} `xml:"model"`
		} `xml:"devices>video"`
	}
	if err := xml.Unmarshal(out.Bytes(), &dom); err != nil {
		t.Fatal(err)
	}
	oem := strings.Join(dom.Entries, " ")
	for _, want := range []string{"mailinspector-agent-key=abcd", "mailinspector-agent=10.77.0.10:7480", "mailinspector-smtp-port=2525"} {
		if !strings.Contains(oem, want) {
			t.Errorf("OEM strings %q lack %s", oem, want)
		}
	}
	if dom.Name != "mi-sbx-linux-0" || len(dom.Video) != 1 || dom.Video[0].Model.Type != "vga" {
		t.Errorf("domain %+v", dom)
	}
}
