package console

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailinspector/internal/settings"
)

// Menu is the console after first boot: a numbered menu behind the admin
// password. No entry leads to a shell.
type Menu struct {
	In   io.Reader
	Out  io.Writer
	Sys  *System
	Echo func(on bool)
	// Status is the daemon's own account (show version, show services);
	// nil: not shown.
	Status func() string
	// ConfirmWithin is how long a network change waits for "yes" before
	// it is undone (default one minute).
	ConfirmWithin time.Duration

	lines chan string
}

// errLogout ends the menu.
var errLogout = errors.New("logged out")

func (m *Menu) say(format string, args ...any) { fmt.Fprintf(m.Out, format, args...) }

// next reads one line; timeout 0 waits for ever. ok is false on timeout,
// err ErrClosed when the console is gone.
func (m *Menu) next(timeout time.Duration) (line string, ok bool, err error) {
	if m.lines == nil {
		m.lines = make(chan string)
		go func() {
			br := bufio.NewReader(m.In)
			for {
				l, err := br.ReadString('\n')
				if l != "" || err == nil {
					m.lines <- strings.TrimRight(l, "\r\n")
				}
				if err != nil {
					close(m.lines)
					return
				}
			}
		}()
	}
	var timer <-chan time.Time
	if timeout > 0 {
		timer = time.After(timeout)
	}
	select {
	case l, open := <-m.lines:
		if !open {
			return "", false, ErrClosed
		}
		return l, true, nil
	case <-timer:
		return "", false, nil
	}
}

// ask and secret are the wizard's, reading from the menu's line reader.
func (m *Menu) ask(prompt, def string, check func(string) error) (string, error) {
	return m.wizard().ask(prompt, def, check)
}

func (m *Menu) secret(prompt string) (string, error) { return m.wizard().secret(prompt) }

// adminHash reads the admin's password hash from the shadow file.
func (s *System) adminHash() (string, error) {
	b, err := os.ReadFile(s.path("/etc/shadow"))
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, ":"); len(f) > 1 && f[0] == "admin" {
			return f[1], nil
		}
	}
	return "", errors.New("no admin user")
}

// login asks for the admin password; each wrong answer waits a little
// longer.
func (m *Menu) login() error {
	for attempt := 1; ; attempt++ {
		pw, err := m.secret("Password for admin")
		if err != nil {
			return err
		}
		hash, err := m.Sys.adminHash()
		if err == nil && checkHash(pw, hash) {
			return nil
		}
		m.say("  wrong password\n")
		time.Sleep(time.Duration(min(attempt, 5)) * 500 * time.Millisecond)
	}
}

var menuItems = []string{
	"Network (management interface, addresses, DNS)",
	"Host name and time server",
	"Admin password",
	"Add an SSH key for admin",
	"Turn SSH on or off",
	"Status and recent logs",
	"Diagnostics (DNS lookup, SMTP test, ping)",
	"Restore the previous settings",
	"Factory reset",
	"Reboot",
	"Shut down",
	"Mail domains and downstream server",
}

// Run logs in and serves the menu until logout or the console goes.
func (m *Menu) Run() error {
	if m.ConfirmWithin == 0 {
		m.ConfirmWithin = time.Minute
	}
	m.say("\nMail Inspector console\n")
	if err := m.login(); err != nil {
		return err
	}
	for {
		m.say("\n")
		for i, it := range menuItems {
			m.say("  %2d) %s\n", i+1, it)
		}
		m.say("   0) Log out\n")
		choice, err := m.ask("Choice", "", func(v string) error {
			for i := 0; i <= len(menuItems); i++ {
				if v == fmt.Sprint(i) {
					return nil
				}
			}
			return fmt.Errorf("a number from 0 to %d", len(menuItems))
		})
		if err != nil {
			return err
		}
		if err := m.do(choice); errors.Is(err, errLogout) {
			return nil
		} else if errors.Is(err, ErrClosed) {
			return err
		} else if err != nil {
			m.say("  %v\n", err)
		}
	}
}

func (m *Menu) wizard() *Wizard {
	return &Wizard{Out: m.Out, Sys: m.Sys, Echo: m.Echo, Lines: func() (string, error) {
		l, _, err := m.next(0)
		return l, err
	}}
}

func (m *Menu) do(choice string) error {
	switch choice {
	case "0":
		return errLogout
	case "1":
		return m.network()
	case "2":
		return m.hostAndTime()
	case "3":
		return m.password()
	case "4":
		return m.sshKey()
	case "5":
		on, err := m.ask("SSH on or off", "on", oneOf("on", "off"))
		if err != nil {
			return err
		}
		verb := "enable"
		if on == "off" {
			verb = "disable"
		}
		return m.Sys.run("", "systemctl", verb, "--now", "ssh.service")
	case "6":
		if m.Status != nil {
			m.say("%s\n", m.Status())
		}
		out, err := m.Sys.capture("journalctl", "-u", "mailinspector.service", "-n", "20", "--no-pager")
		m.say("%s\n", out)
		return err
	case "7":
		return m.diagnostics()
	case "8":
		if err := settings.Rollback(m.Sys.path(m.Sys.DataDir)); err != nil {
			return err
		}
		m.say("  the previous settings are back\n")
		return m.Sys.run("", "systemctl", "reload", "mailinspector.service")
	case "9":
		ok, err := m.ask("Type RESET to erase all settings, messages and the first-boot answers", "", func(string) error { return nil })
		if err != nil || ok != "RESET" {
			m.say("  nothing was changed\n")
			return err
		}
		return m.factoryReset()
	case "10":
		return m.Sys.run("", "systemctl", "reboot")
	case "11":
		return m.Sys.run("", "systemctl", "poweroff")
	case "12":
		return m.mailRouting()
	}
	return nil
}

// network asks the network questions again, applies them, and undoes them
// unless "yes" comes within ConfirmWithin (a wrong address must not lock
// the administrator out).
func (m *Menu) network() error {
	w := m.wizard()
	c, err := w.network()
	if err != nil {
		return err
	}
	unit := m.Sys.path(NetworkUnit)
	old, oldErr := os.ReadFile(unit)
	if err := m.Sys.write(NetworkUnit, c.networkFile(), 0o644); err != nil {
		return err
	}
	if err := m.Sys.run("", "systemctl", "restart", "systemd-networkd.service"); err != nil {
		m.say("  %v\n", err)
	}
	m.say("Keep the new network settings? Type yes within %s, or they are undone: ", m.ConfirmWithin)
	l, ok, err := m.next(m.ConfirmWithin)
	if err == nil && ok && strings.TrimSpace(l) == "yes" {
		m.say("  kept\n")
		return nil
	}
	if oldErr == nil {
		m.Sys.write(NetworkUnit, string(old), 0o644)
	} else {
		os.Remove(unit)
	}
	m.Sys.run("", "systemctl", "restart", "systemd-networkd.service")
	m.say("\n  not confirmed: the previous network settings are back\n")
	return err
}

// mailRouting asks the first-boot mail questions again (the domains to
// accept, the downstream server) and has the daemon reload them.
func (m *Menu) mailRouting() error {
	var c Config
	if err := m.wizard().mail(&c); err != nil {
		return err
	}
	if err := settings.Update(m.Sys.path(m.Sys.DataDir), map[string]string{"smtp.accepted_domains": strings.Join(c.Domains, ","),
		"delivery.relay": c.Relay}); err != nil {
		return err
	}
	m.say("  mail domains %s, downstream %s: saved\n", orNone(strings.Join(c.Domains, ", ")), orNone(c.Relay))
	return m.Sys.run("", "systemctl", "reload", "mailinspector.service")
}

func (m *Menu) hostAndTime() error {
	host, err := m.ask("Host name", "", CheckHostname)
	if err != nil {
		return err
	}
	ntp, err := m.ask("Time server (NTP)", "2.debian.pool.ntp.org", func(v string) error {
		if _, err := netip.ParseAddr(v); err == nil {
			return nil
		}
		return CheckHostname(v)
	})
	if err != nil {
		return err
	}
	short, _, _ := strings.Cut(host, ".")
	if err := m.Sys.write("/etc/hostname", host+"\n", 0o644); err != nil {
		return err
	}
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s %s\n::1\tlocalhost ip6-localhost ip6-loopback\n", host, short)
	if err := m.Sys.write("/etc/hosts", hosts, 0o644); err != nil {
		return err
	}
	if err := m.Sys.write("/etc/chrony/sources.d/mailinspector.sources", "# Written by the Mail Inspector console.\nserver "+ntp+" iburst\n", 0o644); err != nil {
		return err
	}
	if err := settings.Update(m.Sys.path(m.Sys.DataDir), map[string]string{"hostname": host}); err != nil {
		return err
	}
	m.Sys.run("", "hostnamectl", "set-hostname", host)
	m.Sys.run("", "systemctl", "restart", "chrony.service")
	return m.Sys.run("", "systemctl", "reload", "mailinspector.service")
}

func (m *Menu) password() error {
	cur, err := m.secret("Current password")
	if err != nil {
		return err
	}
	if hash, err := m.Sys.adminHash(); err != nil || !checkHash(cur, hash) {
		return errors.New("wrong password; nothing was changed")
	}
	a, err := m.secret("New password")
	if err != nil {
		return err
	}
	if err := CheckPassword(a); err != nil {
		return err
	}
	b, err := m.secret("The new password again")
	if err != nil {
		return err
	}
	if a != b {
		return errors.New("the two passwords differ; nothing was changed")
	}
	if err := m.Sys.SetPassword("admin", a); err != nil {
		return err
	}
	if err := m.Sys.SetAccountPassword(a); err != nil {
		return fmt.Errorf("the SSH password is changed, the web console's not: %w", err)
	}
	m.say("  the admin password is changed (SSH and the web console)\n")
	return nil
}

// AuthorizedKeys is admin's key file: root's to write, sshd's to read
// (AuthorizedKeysFile in the sshd drop-in), so that nothing admin could
// run would change it.
const AuthorizedKeys = "/etc/ssh/authorized_keys/admin"

// sshKey adds one OpenSSH public key to admin's authorized_keys.
func (m *Menu) sshKey() error {
	key, err := m.ask("Public key (one line: TYPE BASE64 [comment])", "", func(v string) error {
		f := strings.Fields(v)
		switch {
		case len(f) < 2:
			return errors.New("want TYPE BASE64 [comment], like ssh-ed25519 AAAA… you@host")
		case f[0] != "ssh-ed25519" && f[0] != "ssh-rsa" && !strings.HasPrefix(f[0], "ecdsa-sha2-"):
			return fmt.Errorf("key type %q not accepted", f[0])
		}
		blob, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil || len(blob) < 4+len(f[0]) || string(blob[4:4+len(f[0])]) != f[0] {
			return errors.New("the key's data does not match its type")
		}
		return nil
	})
	if err != nil {
		return err
	}
	path := m.Sys.path(AuthorizedKeys)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, strings.Join(strings.Fields(key), " "))
	if err := errors.Join(err, f.Sync(), f.Close()); err != nil {
		return err
	}
	m.say("  key added\n")
	return nil
}

func (m *Menu) diagnostics() error {
	what, err := m.ask("dns, smtp or ping", "dns", oneOf("dns", "smtp", "ping"))
	if err != nil {
		return err
	}
	host, err := m.ask("Host", "", func(v string) error {
		h, _, err := net.SplitHostPort(v)
		if err != nil {
			h = v
		}
		if _, err := netip.ParseAddr(h); err == nil {
			return nil
		}
		return CheckHostname(h)
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch what {
	case "dns":
		addrs, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			return err
		}
		m.say("  %s\n", strings.Join(addrs, " "))
	case "smtp":
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(host, "25")
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		banner, err := bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "QUIT\r\n")
		if err != nil {
			return fmt.Errorf("no banner: %w", err)
		}
		m.say("  %s\n", strings.TrimSpace(banner))
	case "ping":
		out, err := m.Sys.capture("ping", "-c", "3", "-W", "2", host)
		m.say("%s\n", out)
		return err
	}
	return nil
}

// factoryReset removes the answers of the first boot and every setting
// and message, then reboots into the wizard.
func (m *Menu) factoryReset() error {
	m.Sys.run("", "systemctl", "stop", "mailinspector.service")
	data := m.Sys.path(m.Sys.DataDir)
	ents, _ := os.ReadDir(data)
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(data, e.Name())); err != nil {
			return err
		}
	}
	for _, p := range []string{NetworkUnit, "/etc/chrony/sources.d/mailinspector.sources", AuthorizedKeys} {
		os.Remove(m.Sys.path(p))
	}
	m.Sys.run("", "passwd", append(m.Sys.rootArgs(), "-l", "admin")...)
	m.say("  reset done; rebooting into the first-boot setup\n")
	return m.Sys.run("", "systemctl", "reboot")
}
