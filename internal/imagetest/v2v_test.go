//go:build image

package imagetest

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVirtV2V imports the OVA as a KVM administrator does, with Debian's
// virt-v2v (-i ova … -o local: a disk and a libvirt domain), under TCG
// with libguestfs's direct backend, and boots the converted disk with the
// firmware its domain names to the first-boot console. virt-v2v opens the
// guest, recognises Debian 12, finds its boot loader and regenerates
// GRUB's configuration (that is where the syslinux image stopped: "no
// bootloader detected").
func TestVirtV2V(t *testing.T) {
	ova := built(t, "MAILINSPECTOR_OVA")
	t.Parallel() // doc.go: one host thread per guest
	if _, err := exec.LookPath("virt-v2v"); err != nil {
		t.Fatal("virt-v2v is missing: make image-setup installs it")
	}
	dir := t.TempDir()
	const name = "mi-v2v"
	cmd := exec.Command("virt-v2v", "-i", "ova", mustAbs(t, ova), "-o", "local", "-os", dir, "-of", "qcow2", "-on", name)
	cmd.Env = append(os.Environ(), "LIBGUESTFS_BACKEND=direct", "LIBGUESTFS_CACHEDIR="+t.TempDir())
	start := time.Now()
	out, err := cmd.CombinedOutput()
	// Its steps with their times, without the copy's progress bar. One
	// warning is expected: virt-v2v says it for every Debian guest (it sets
	// a default kernel only through grubby or perl-Bootloader; the image
	// has one kernel). Anything else is news.
	var said, warnings []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.Contains(l, "% [") {
			said = append(said, l)
		}
		if strings.Contains(l, "warning:") && !strings.Contains(l, "could not determine a way to update the configuration of Grub2") {
			warnings = append(warnings, l)
		}
	}
	t.Logf("virt-v2v took %s:\n%s", time.Since(start).Round(time.Second), strings.Join(said, "\n"))
	if err != nil {
		t.Fatalf("virt-v2v: %v", err)
	}
	if !strings.Contains(string(out), "Finishing off") {
		t.Errorf("virt-v2v did not finish")
	}
	for _, w := range warnings {
		t.Errorf("virt-v2v: %s", w)
	}
	// The image carries the QEMU guest agent, so virt-v2v schedules no
	// install for the first boot (it would run apt-get on the console beside
	// the wizard).
	if strings.Contains(string(out), "at first boot") {
		t.Errorf("virt-v2v scheduled something for the first boot")
	}

	// The domain: valid for libvirt, the guest recognised as Debian 12, UEFI
	// as the OVF declares (Debian's OVMF), virtio for the disk and the
	// network.
	domXML := filepath.Join(dir, name+".xml")
	if out, err := exec.Command("virt-xml-validate", domXML, "domain").CombinedOutput(); err != nil {
		t.Fatalf("virt-xml-validate: %v %s", err, out)
	}
	var dom struct {
		Name string `xml:"name"`
		// What virt-v2v recognised the guest as.
		OSInfo struct {
			ID string `xml:"id,attr"`
		} `xml:"metadata>libosinfo>os"`
		OS struct {
			Loader string `xml:"loader"`
			NVRAM  struct {
				Template string `xml:"template,attr"`
			} `xml:"nvram"`
		} `xml:"os"`
		Disks []struct {
			Source struct {
				File string `xml:"file,attr"`
			} `xml:"source"`
			Target struct {
				Bus string `xml:"bus,attr"`
			} `xml:"target"`
			Driver struct {
				Type string `xml:"type,attr"`
			} `xml:"driver"`
		} `xml:"devices>disk"`
		NICs []struct {
			Model struct {
				Type string `xml:"type,attr"`
			} `xml:"model"`
		} `xml:"devices>interface"`
	}
	b, err := os.ReadFile(domXML)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &dom); err != nil {
		t.Fatalf("%s: %v", domXML, err)
	}
	// virt-v2v names Debian's OVMF code and the variable store to copy.
	uefi := firmware{name: "the domain's OVMF", code: dom.OS.Loader, vars: dom.OS.NVRAM.Template}
	if dom.Name != name || dom.OSInfo.ID != "http://debian.org/debian/12" || !strings.Contains(uefi.code, "OVMF") || !strings.Contains(uefi.vars, "OVMF") || len(dom.Disks) != 1 || dom.Disks[0].Target.Bus != "virtio" ||
		dom.Disks[0].Driver.Type != "qcow2" || len(dom.NICs) != 1 || dom.NICs[0].Model.Type != "virtio" {
		t.Fatalf("the converted domain:\n%s", b)
	}

	// The converted disk boots (with the firmware the domain names) to the
	// first-boot console.
	disk := dom.Disks[0].Source.File
	if !filepath.IsAbs(disk) {
		disk = filepath.Join(dir, disk)
	}
	v := boot(t, overlay(t, disk, "qcow2"), uefi)
	start = time.Now()
	v.expect("Mail Inspector — first boot", 0, 10*time.Minute)
	if log := v.output(); strings.Contains(log, "firstboot.sh") {
		t.Errorf("virt-v2v's first-boot scripts ran:\n%s", log)
	}
	t.Logf("the converted disk booted with %s (%s) to the first-boot console after %s", uefi.name, uefi.code, time.Since(start).Round(time.Second))
}
