package sandbox

import "regexp"

var domainType = regexp.MustCompile(`<domain[^>]*\stype=['"]([a-z]+)['"]`)

// Accelerator says how the instances run, from the domain type.
func Accelerator(tmpl string) string {
	m := domainType.FindStringSubmatch(tmpl)
	if m == nil {
		return "unknown"
	}
	switch m[1] {
	case "kvm":
		return "kvm"
	case "qemu":
		return "tcg (emulation, slow: give the appliance nested virtualisation or a remote libvirt host)"
	}
	return m[1] + " driver"
}
