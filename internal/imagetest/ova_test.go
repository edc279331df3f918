//go:build image

package imagetest

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOVA opens the OVA as an importer would (the .ovf first, the
// manifest's hashes right, the descriptor's references, product version,
// guest OS, hardware version and firmware), then boots the VMDK taken out
// of it to the first-boot wizard with BIOS, as VirtualBox starts it.
func TestOVA(t *testing.T) {
	ova := built(t, "MAILINSPECTOR_OVA")
	t.Parallel() // doc.go: one host thread per guest
	dir := t.TempDir()
	f, err := os.Open(ova)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var names []string
	sums := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(h.Name, "/") {
			t.Fatalf("member %q is not at the top of the archive", h.Name)
		}
		names = append(names, h.Name)
		out, err := os.Create(filepath.Join(dir, h.Name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.New()
		if _, err := io.Copy(io.MultiWriter(out, sum), tr); err != nil {
			t.Fatal(err)
		}
		out.Close()
		sums[h.Name] = hex.EncodeToString(sum.Sum(nil))
	}
	if len(names) != 3 || !strings.HasSuffix(names[0], ".ovf") || !strings.HasSuffix(names[1], ".mf") || !strings.HasSuffix(names[2], ".vmdk") {
		t.Fatalf("members %q: want the .ovf first, then the manifest and the disk", names)
	}
	mf, _ := os.ReadFile(filepath.Join(dir, names[1]))
	for _, n := range []string{names[0], names[2]} {
		if line := fmt.Sprintf("SHA256(%s)= %s", n, sums[n]); !strings.Contains(string(mf), line) {
			t.Errorf("manifest lacks %q:\n%s", line, mf)
		}
	}
	var env struct {
		Files []struct {
			Href string `xml:"href,attr"`
			Size int64  `xml:"size,attr"`
		} `xml:"References>File"`
		Product struct {
			Product string `xml:"Product"`
			Version string `xml:"Version"`
		} `xml:"VirtualSystem>ProductSection"`
		OS struct {
			ID     string `xml:"http://schemas.dmtf.org/ovf/envelope/1 id,attr"`
			VMware string `xml:"http://www.vmware.com/schema/ovf osType,attr"`
		} `xml:"VirtualSystem>OperatingSystemSection"`
		Hardware struct {
			Type   string `xml:"System>VirtualSystemType"`
			Config []struct {
				Key   string `xml:"http://www.vmware.com/schema/ovf key,attr"`
				Value string `xml:"http://www.vmware.com/schema/ovf value,attr"`
			} `xml:"http://www.vmware.com/schema/ovf Config"`
		} `xml:"VirtualSystem>VirtualHardwareSection"`
	}
	ovf, _ := os.ReadFile(filepath.Join(dir, names[0]))
	if err := xml.Unmarshal(ovf, &env); err != nil {
		t.Fatalf("the OVF does not parse: %v", err)
	}
	st, _ := os.Stat(filepath.Join(dir, names[2]))
	version, _ := os.ReadFile("../../VERSION")
	if len(env.Files) != 1 || env.Files[0].Href != names[2] || env.Files[0].Size != st.Size() ||
		env.Product.Product != "Mail Inspector" || env.Product.Version != strings.TrimSpace(string(version)) {
		t.Fatalf("OVF: %+v (disk %d bytes, version %q)", env, st.Size(), version)
	}
	// What vSphere, Workstation and virt-v2v read: Debian 12 64-bit (CIM
	// 96 and VMware's name), a hardware version they accept, UEFI.
	firmware := ""
	for _, c := range env.Hardware.Config {
		if c.Key == "firmware" {
			firmware = c.Value
		}
	}
	if env.OS.ID != "96" || env.OS.VMware != "debian12_64Guest" || env.Hardware.Type != "vmx-14" || firmware != "efi" {
		t.Fatalf("OVF: OS %+v, hardware %q, firmware %q", env.OS, env.Hardware.Type, firmware)
	}

	// A streamOptimized VMDK boots in qemu only as a snapshot (NOTES.md):
	// the overlay takes the writes.
	v := boot(t, overlay(t, filepath.Join(dir, names[2]), "vmdk"), seaBIOS)
	start := time.Now()
	v.expect("Mail Inspector — first boot", 0, 10*time.Minute)
	t.Logf("the OVA's disk booted to the wizard in %s", time.Since(start).Round(time.Second))
}
