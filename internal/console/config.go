package console

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"unicode"

	"mailinspector/internal/settings"
)

// Config is what the first-boot wizard asks for.
type Config struct {
	Interface string
	DHCP      bool
	Address   netip.Prefix // static: address/prefix
	Gateway   netip.Addr
	DNS       []netip.Addr
	Hostname  string
	NTP       string
	// Mail: the domains to accept mail for, and where MTA mode delivers
	// (host:port; empty: the appliance's own Maildir).
	Domains []string
	Relay   string
}

// CheckPassword enforces the admin password rules: 12 characters or more,
// three of the four kinds (lower case, upper case, digits, others), not
// the user name.
func CheckPassword(pw string) error {
	if len([]rune(pw)) < 12 {
		return errors.New("at least 12 characters")
	}
	if strings.Contains(strings.ToLower(pw), "admin") {
		return errors.New("it must not contain the user name (admin)")
	}
	var lower, upper, digit, other bool
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsControl(r):
			return errors.New("no control characters")
		default:
			other = true
		}
	}
	kinds := 0
	for _, k := range []bool{lower, upper, digit, other} {
		if k {
			kinds++
		}
	}
	if kinds < 3 {
		return errors.New("at least three of: lower case, upper case, digits, other characters")
	}
	return nil
}

// CheckHostname accepts a host name or FQDN of RFC 1123 labels.
func CheckHostname(h string) error {
	if h == "" || len(h) > 253 {
		return errors.New("1 to 253 characters")
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return fmt.Errorf("label %q: 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen", l)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("label %q: only letters, digits and hyphens", l)
			}
		}
	}
	return nil
}

// networkFile is the systemd-networkd unit for the management interface.
func (c *Config) networkFile() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by the Mail Inspector console.\n[Match]\nName=%s\n\n[Network]\n", c.Interface)
	if c.DHCP {
		b.WriteString("DHCP=yes\n")
	} else {
		fmt.Fprintf(&b, "Address=%s\nGateway=%s\n", c.Address, c.Gateway)
	}
	for _, d := range c.DNS {
		fmt.Fprintf(&b, "DNS=%s\n", d)
	}
	return b.String()
}

// NetworkUnit is where the management interface's unit goes.
const NetworkUnit = "/etc/systemd/network/10-mailinspector-mgmt.network"

// Apply writes the configuration into the system: the network unit, the
// host name, chrony's source, and the daemon's settings (listening on
// port 25 on every address, clamd and the local resolver of the image).
// Where the image keeps clamd's databases, its seed bundles and the key
// that signed them (scripts/image-rootfs.sh puts them there; the key's
// private half is thrown away when the image is built).
const (
	ImageClamdDatabase = "/var/lib/clamav"
	ImageSeedDir       = "/usr/share/mailinspector/bundles"
	ImageSeedKey       = "/usr/share/mailinspector/keys/image-seed.pub"
)

func (s *System) Apply(c *Config) error {
	if err := s.write(NetworkUnit, c.networkFile(), 0o644); err != nil {
		return err
	}
	if err := s.write("/etc/hostname", c.Hostname+"\n", 0o644); err != nil {
		return err
	}
	short, _, _ := strings.Cut(c.Hostname, ".")
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s %s\n::1\tlocalhost ip6-localhost ip6-loopback\n", c.Hostname, short)
	if err := s.write("/etc/hosts", hosts, 0o644); err != nil {
		return err
	}
	if err := s.write("/etc/chrony/sources.d/mailinspector.sources", "# Written by the Mail Inspector console.\nserver "+c.NTP+" iburst\n", 0o644); err != nil {
		return err
	}
	data := s.path(s.DataDir)
	if err := os.MkdirAll(data, 0o750); err != nil {
		return err
	}
	// The image's companions: Debian's clamd (its socket, and its database
	// folder, where the daemon installs ClamAV bundles: the image's seed of
	// the project's signatures first) and the local unbound.
	return settings.Update(data, map[string]string{"smtp.listen": "0.0.0.0:25", "web.listen": "0.0.0.0:443", "hostname": c.Hostname,
		"engine.clamd": "unix:/run/clamav/clamd.ctl", "engine.clamd_database": ImageClamdDatabase,
		"updates.seed_dir": ImageSeedDir, "updates.trusted_keys": ImageSeedKey, "dns.resolver": "127.0.0.1:53",
		"smtp.accepted_domains": strings.Join(c.Domains, ","), "delivery.relay": c.Relay})
}
