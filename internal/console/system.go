// Package console is `mailinspector console`: the first-boot wizard (and,
// later, the menu) on tty1 and ttyS0. It asks, validates, and writes what
// it was told as files under a root directory (systemd-networkd units,
// the host name, chrony's sources, the daemon's settings); the few
// commands it runs are run directly with their arguments and standard
// input, never through a shell.
package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mailinspector/internal/accounts"
	"mailinspector/internal/control"
	"mailinspector/internal/durable"
	"mailinspector/internal/settings"
)

// System is the machine the console configures.
type System struct {
	// Root is "/" on the appliance; tests give a directory.
	Root string
	// DataDir is the daemon's data directory, inside Root.
	DataDir string
	// Run runs a command with its standard input (nil: os/exec with a
	// one-minute deadline). Tests record instead of enabling services on
	// the machine running them.
	Run func(ctx context.Context, stdin string, name string, args ...string) error
	// Capture runs a command and returns what it printed (nil: os/exec).
	Capture func(ctx context.Context, name string, args ...string) (string, error)
}

// capture runs a command for its output, never through a shell.
func (s *System) capture(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if s.Capture != nil {
		return s.Capture(ctx, name, args...)
	}
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return strings.TrimRight(string(out), "\n"), err
}

// rootArgs are the -R ROOT arguments of the shadow tools when Root is not
// the machine's own.
func (s *System) rootArgs() []string {
	if s.Root != "/" && s.Root != "" {
		return []string{"-R", s.Root}
	}
	return nil
}

// FirstBootDone is the file whose presence means the wizard ran; the
// daemon's unit has ConditionPathExists on it, so nothing listens before.
const FirstBootDone = ".firstboot-done"

func (s *System) path(p string) string { return filepath.Join(s.Root, p) }

func (s *System) run(stdin, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if s.Run != nil {
		return s.Run(ctx, stdin, name, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Done says whether the first-boot wizard has run.
func (s *System) Done() bool {
	_, err := os.Stat(filepath.Join(s.path(s.DataDir), FirstBootDone))
	return err == nil
}

// Interfaces lists the network interfaces but the loopback, sorted.
func (s *System) Interfaces() []string {
	ents, _ := os.ReadDir(s.path("/sys/class/net"))
	var out []string
	for _, e := range ents {
		if e.Name() != "lo" {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// SetPassword sets a user's password with chpasswd (SHA-512 crypt), in
// Root; the password goes on chpasswd's standard input, never on a
// command line.
func (s *System) SetPassword(user, password string) error {
	return s.run(user+":"+password+"\n", "chpasswd", append([]string{"-c", "SHA512"}, s.rootArgs()...)...)
}

func (s *System) write(p string, data string, mode os.FileMode) error {
	full := s.path(p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	return durable.WriteFile(full, []byte(data), mode)
}

// HostKeyFingerprint is the SHA256 fingerprint of the SSH host key, as
// ssh-keygen -l prints it, making the keys first if there are none.
func (s *System) HostKeyFingerprint() (string, error) {
	pub := s.path("/etc/ssh/ssh_host_ed25519_key.pub")
	if _, err := os.Stat(pub); err != nil {
		if err := os.MkdirAll(s.path("/etc/ssh"), 0o755); err != nil {
			return "", err
		}
		if err := s.run("", "ssh-keygen", "-A", "-f", s.path("/")); err != nil {
			return "", err
		}
	}
	b, err := os.ReadFile(pub)
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return "", fmt.Errorf("%s: not an OpenSSH public key", pub)
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return "", fmt.Errorf("%s: %w", pub, err)
	}
	sum := sha256.Sum256(blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:]) + " (ED25519)", nil
}

// SetAccountPassword gives the appliance's admin account (the web
// console's login) the password the admin OS user got: through the
// daemon's control socket when it runs, else as a hash in the data
// directory that the daemon adopts when it starts (the first boot).
func (s *System) SetAccountPassword(password string) error {
	data := s.path(s.DataDir)
	resp, err := control.Call(filepath.Join(data, control.SocketName),
		control.Request{Command: "account password admin", Secret: password, Origin: "the console"})
	if err == nil && resp.OK {
		return nil
	}
	hash, err := accounts.Hash(password)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(data, 0o750); err != nil {
		return err
	}
	path := filepath.Join(data, accounts.PendingHashFile)
	if err := durable.WriteFile(path, []byte(hash+"\n"), 0o600); err != nil {
		return err
	}
	// The daemon runs as its own user: a root-owned 0600 file would be
	// one it cannot read.
	return settings.OwnLikeDataDir(data, path)
}
