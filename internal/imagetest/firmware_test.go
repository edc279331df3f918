//go:build image

package imagetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// firmware is what qemu starts a disk with: SeaBIOS (qemu's own BIOS) or
// Debian's OVMF (UEFI), whose variable store is a copy per boot.
type firmware struct {
	name string
	code string // OVMF's code; "" for SeaBIOS
	vars string // the variable store it starts from
	// secure: the Secure Boot build, which needs SMM and a secured flash.
	secure bool
}

var (
	seaBIOS = firmware{name: "SeaBIOS"}
	ovmf    = firmware{name: "OVMF", code: "/usr/share/OVMF/OVMF_CODE_4M.fd", vars: "/usr/share/OVMF/OVMF_VARS_4M.fd"}
	// Secure Boot on, with Microsoft's keys enrolled as on a PC or a
	// hypervisor with Secure Boot enabled: only signed loaders start
	// (shim, signed by Microsoft; GRUB and the kernel, signed by Debian).
	// The variable store "has Secure Boot already activated" (ovmf's
	// README.Debian); the code is the build that needs SMM.
	ovmfSecureBoot = firmware{name: "OVMF Secure Boot", code: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
		vars: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", secure: true}
)

func (fw firmware) qemuArgs(t *testing.T) []string {
	t.Helper()
	if fw.code == "" {
		return []string{"-machine", "q35"}
	}
	for _, f := range []string{fw.code, fw.vars} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s: %v (Debian's ovmf; make image-setup installs it)", fw.name, err)
		}
	}
	vars := filepath.Join(t.TempDir(), "vars.fd")
	if out, err := exec.Command("cp", fw.vars, vars).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	args := []string{"-machine", "q35"}
	if fw.secure {
		args = []string{"-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on"}
	}
	return append(args,
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+fw.code,
		"-drive", "if=pflash,format=raw,unit=1,file="+vars)
}

// built is the build output the environment variable env names (make
// image-test sets MAILINSPECTOR_IMAGE and MAILINSPECTOR_OVA); the test is
// skipped without it.
func built(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Skip(env + " is not set (make image-test sets it)")
	}
	return p
}

// overlay is a qcow2 over image (format: its format) in a test folder, so
// that a boot changes nothing of the image.
func overlay(t *testing.T, image, format string) string {
	t.Helper()
	o := filepath.Join(t.TempDir(), "disk.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-f", "qcow2", "-F", format, "-b", mustAbs(t, image), o).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v %s", err, out)
	}
	return o
}

// TestImageFirmware boots the image with UEFI firmware, plain and with
// Secure Boot, to the first-boot console on ttyS0 (TestImage drives it
// from there with SeaBIOS). OVMF starts nothing but EFI loaders: reaching
// the console is GRUB's EFI path working, as SeaBIOS reaching it is the
// BIOS path.
func TestImageFirmware(t *testing.T) {
	image := built(t, "MAILINSPECTOR_IMAGE")
	t.Parallel() // doc.go: one host thread per guest
	for _, fw := range []firmware{ovmf, ovmfSecureBoot} {
		t.Run(fw.name, func(t *testing.T) {
			v := boot(t, overlay(t, image, "qcow2"), fw)
			start := time.Now()
			v.expect("Mail Inspector — first boot", 0, 10*time.Minute)
			t.Logf("%s: the first-boot console after %s", fw.name, time.Since(start).Round(time.Second))
		})
	}
}
