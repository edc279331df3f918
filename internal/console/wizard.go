package console

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Wizard is the first-boot dialogue.
type Wizard struct {
	In  *bufio.Reader
	Out io.Writer
	Sys *System
	// Echo turns the terminal's echo on or off around passwords (nil: the
	// console is not a terminal, e.g. a test's pipe).
	Echo func(on bool)
	// Lines, when set, is where answers come from instead of In (the
	// menu shares its line reader).
	Lines func() (string, error)
}

// line reads one answer.
func (w *Wizard) line() (string, error) {
	if w.Lines != nil {
		return w.Lines()
	}
	l, err := w.In.ReadString('\n')
	if err != nil && l == "" {
		return "", ErrClosed
	}
	return strings.TrimRight(l, "\r\n"), nil
}

// ErrClosed is the console going away in the middle of the dialogue.
var ErrClosed = errors.New("console closed")

func (w *Wizard) say(format string, args ...any) { fmt.Fprintf(w.Out, format, args...) }

// ask prompts until check accepts the answer; an empty answer takes def.
func (w *Wizard) ask(prompt, def string, check func(string) error) (string, error) {
	for {
		if def != "" {
			w.say("%s [%s]: ", prompt, def)
		} else {
			w.say("%s: ", prompt)
		}
		line, err := w.line()
		if err != nil {
			return "", err
		}
		v := strings.TrimSpace(line)
		if v == "" {
			v = def
		}
		if err := check(v); err != nil {
			w.say("  %v\n", err)
			continue
		}
		return v, nil
	}
}

func (w *Wizard) secret(prompt string) (string, error) {
	if w.Echo != nil {
		w.Echo(false)
		defer func() { w.Echo(true); w.say("\n") }()
	}
	w.say("%s: ", prompt)
	return w.line()
}

// Run asks everything, applies it, marks the first boot done, starts the
// daemon and SSH, and shows how to reach the appliance.
func (w *Wizard) Run() error {
	w.say("\nMail Inspector — first boot\n\nNothing listens on the network until these questions are answered.\n\n")
	var pw string
	for {
		a, err := w.secret("Password for the administrator (user admin)")
		if err != nil {
			return err
		}
		if err := CheckPassword(a); err != nil {
			w.say("  %v\n", err)
			continue
		}
		b, err := w.secret("The same password again")
		if err != nil {
			return err
		}
		if a != b {
			w.say("  the two passwords differ\n")
			continue
		}
		pw = a
		break
	}
	c, err := w.network()
	if err != nil {
		return err
	}
	if err := w.mail(c); err != nil {
		return err
	}
	relay := c.Relay
	if relay == "" {
		relay = "kept in the appliance (Maildir) until a downstream is set"
	}
	w.say("\nManagement interface %s: %s\nHost name %s, time from %s\nMail for %s, delivered to %s\n",
		c.Interface, describe(c), c.Hostname, c.NTP, orNone(strings.Join(c.Domains, ", ")), relay)
	ok, err := w.ask("Apply and start? (yes/no)", "yes", oneOf("yes", "no"))
	if err != nil {
		return err
	}
	if ok != "yes" {
		w.say("Nothing was changed; the questions start again.\n")
		return w.Run()
	}
	if w.Sys.Done() {
		// The wizard runs on tty1 and ttyS0 at once: the other one was
		// answered first.
		w.say("The setup was completed on another console; nothing was changed here.\n")
		return nil
	}
	if err := w.Sys.SetPassword("admin", pw); err != nil {
		return fmt.Errorf("admin password: %w", err)
	}
	if err := w.Sys.SetAccountPassword(pw); err != nil {
		return fmt.Errorf("admin password of the web console: %w", err)
	}
	if err := w.Sys.Apply(c); err != nil {
		return err
	}
	fp, err := w.Sys.HostKeyFingerprint()
	if err != nil {
		return fmt.Errorf("SSH host key: %w", err)
	}
	done := filepath.Join(w.Sys.path(w.Sys.DataDir), FirstBootDone)
	if err := os.WriteFile(done, nil, 0o640); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"restart", "systemd-networkd.service"},
		{"enable", "--now", "ssh.service", "mailinspector.service"},
	} {
		if err := w.Sys.run("", "systemctl", args...); err != nil {
			w.say("  %v\n", err)
		}
	}
	where := "the address DHCP gives " + c.Interface
	if !c.DHCP {
		where = c.Address.Addr().String()
	}
	w.say("\nDone. Mail Inspector is starting.\n  SMTP:  %s port 25\n  SSH:   ssh admin@%s  (the command line)\n  SSH host key: %s\n\n",
		where, where, fp)
	return nil
}

func oneOf(choices ...string) func(string) error {
	return func(v string) error {
		for _, c := range choices {
			if v == c {
				return nil
			}
		}
		return fmt.Errorf("answer %s", strings.Join(choices, " or "))
	}
}

func describe(c *Config) string {
	if c.DHCP {
		return "DHCP"
	}
	var dns []string
	for _, d := range c.DNS {
		dns = append(dns, d.String())
	}
	return fmt.Sprintf("%s, gateway %s, DNS %s", c.Address, c.Gateway, strings.Join(dns, " "))
}

// network asks for the management interface, its addresses, the host name
// and the time server.
func (w *Wizard) network() (*Config, error) {
	c := &Config{}
	ifs := w.Sys.Interfaces()
	if len(ifs) == 0 {
		return nil, errors.New("no network interface found")
	}
	w.say("Network interfaces: %s\n", strings.Join(ifs, " "))
	var err error
	if c.Interface, err = w.ask("Management interface", ifs[0], oneOf(ifs...)); err != nil {
		return nil, err
	}
	mode, err := w.ask("Address by dhcp or static", "dhcp", oneOf("dhcp", "static"))
	if err != nil {
		return nil, err
	}
	c.DHCP = mode == "dhcp"
	if !c.DHCP {
		if _, err = w.ask("Address and prefix (e.g. 192.0.2.10/24)", "", func(v string) error {
			p, err := netip.ParsePrefix(v)
			switch {
			case err != nil:
				return errors.New("want ADDRESS/PREFIX, like 192.0.2.10/24 or 2001:db8::10/64")
			case p.Addr() == p.Masked().Addr() && p.Bits() < p.Addr().BitLen()-1:
				return errors.New("that is the network's own address; give the appliance's")
			}
			c.Address = p
			return nil
		}); err != nil {
			return nil, err
		}
		if _, err = w.ask("Gateway", "", func(v string) error {
			a, err := netip.ParseAddr(v)
			switch {
			case err != nil:
				return errors.New("want an address")
			case !c.Address.Masked().Contains(a):
				return fmt.Errorf("the gateway must be in %s", c.Address.Masked())
			case a == c.Address.Addr():
				return errors.New("that is the appliance's own address")
			}
			c.Gateway = a
			return nil
		}); err != nil {
			return nil, err
		}
	}
	dnsDef := ""
	if c.DHCP {
		dnsDef = "from DHCP"
	}
	if _, err = w.ask("DNS servers (comma-separated)", dnsDef, func(v string) error {
		c.DNS = nil
		if v == "from DHCP" {
			return nil
		}
		for _, f := range strings.Split(v, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("%q is not an address", strings.TrimSpace(f))
			}
			c.DNS = append(c.DNS, a)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if c.Hostname, err = w.ask("Host name", "mailinspector", CheckHostname); err != nil {
		return nil, err
	}
	if c.NTP, err = w.ask("Time server (NTP)", "2.debian.pool.ntp.org", func(v string) error {
		if _, err := netip.ParseAddr(v); err == nil {
			return nil
		}
		return CheckHostname(v)
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// mail asks which domains the appliance accepts mail for and where it
// delivers them: without both, MTA mode refuses every recipient.
func (w *Wizard) mail(c *Config) error {
	_, err := w.ask("Mail domains to accept (comma-separated; .example.com takes subdomains too)", "", func(v string) error {
		c.Domains = nil
		for _, d := range strings.Split(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			if d == "" {
				continue
			}
			if err := CheckHostname(strings.TrimPrefix(d, ".")); err != nil {
				return fmt.Errorf("%q: %v", d, err)
			}
			c.Domains = append(c.Domains, d)
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = w.ask("Downstream mail server (host:port; empty: keep mail in the appliance for now)", "", func(v string) error {
		c.Relay = ""
		if v == "" {
			return nil
		}
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			return errors.New("want HOST:PORT, like mail.example.com:25")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("the port is a number from 1 to 65535")
		}
		if _, err := netip.ParseAddr(host); err != nil {
			if err := CheckHostname(host); err != nil {
				return err
			}
		}
		c.Relay = v
		return nil
	})
	return err
}

func orNone(s string) string {
	if s == "" {
		return "no domain yet"
	}
	return s
}
