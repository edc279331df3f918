package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Libvirtd is a private libvirtd for one test, serving its test:///
// driver on a unix socket in a temporary directory.
//
// As root, two system-mode libvirtds fight over /run/libvirt (the network
// driver's pid file), and every client of one daemon shares one test
// state. So each test gets its own daemon in session mode, run as the
// unprivileged user "nobody" under root (its own user otherwise), with
// every directory it uses inside the temporary directory.
type Libvirtd struct {
	Socket string
	dir    string
	bin    string
	cmd    *exec.Cmd
	t      testing.TB
	system bool // system mode as root (qemu driver), not session mode as nobody
}

// URI is the sandbox.libvirt setting for this daemon's test driver.
func (l *Libvirtd) URI() string { return "test+unix:///default?socket=" + l.Socket }

// StartLibvirtd starts a private libvirtd and waits until its socket answers.
func StartLibvirtd(t testing.TB) *Libvirtd {
	t.Helper()
	bin := RequireTool(t, "libvirtd")
	dir, err := os.MkdirTemp("", "mi-libvirtd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"run", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`unix_sock_dir = %q
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:stderr"
`, filepath.Join(dir, "run"))
	if err := os.WriteFile(filepath.Join(dir, "libvirtd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := chownTree(dir, "nobody"); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, 0o755)
	}
	l := &Libvirtd{Socket: filepath.Join(dir, "run", "libvirt-sock"), dir: dir, bin: bin, t: t}
	l.Start()
	t.Cleanup(l.Stop)
	return l
}

func chownTree(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// Start (re)starts the daemon on the same socket: a restart gives a fresh
// test driver state, as a restarted libvirtd loses transient state.
func (l *Libvirtd) Start() {
	l.t.Helper()
	os.Remove(l.Socket)
	if l.system {
		cmd := exec.Command(l.bin, "-f", filepath.Join(l.dir, "libvirtd.conf"), "-p", filepath.Join(l.dir, "pid"))
		l.run(cmd)
		return
	}
	cmd := exec.Command(l.bin, "-f", filepath.Join(l.dir, "libvirtd.conf"), "-p", filepath.Join(l.dir, "run", "pid"))
	home := filepath.Join(l.dir, "home")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home,
		"XDG_RUNTIME_DIR=" + filepath.Join(l.dir, "run"), "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache")}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			l.t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	l.run(cmd)
}

// run starts the daemon and waits until its socket answers.
func (l *Libvirtd) run(cmd *exec.Cmd) {
	l.t.Helper()
	logf, err := os.OpenFile(filepath.Join(l.dir, "libvirtd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		l.t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("libvirtd: %v", err)
	}
	l.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("unix", l.Socket)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(l.dir, "libvirtd.log"))
			l.t.Fatalf("libvirtd did not listen on %s: %v\n%s", l.Socket, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the daemon (a test of "libvirtd went away").
func (l *Libvirtd) Stop() {
	if l.cmd != nil {
		l.cmd.Process.Kill()
		l.cmd.Wait()
		l.cmd = nil
	}
}

// Freeze stops the daemon with SIGSTOP: it keeps its socket and answers
// nothing, the stuck call every libvirt client has to survive.
func (l *Libvirtd) Freeze() { l.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw lets a frozen daemon go on.
func (l *Libvirtd) Thaw() { l.cmd.Process.Signal(syscall.SIGCONT) }

// StartSystemLibvirtd starts a system-mode libvirtd as root on a private
// socket, with its qemu driver (and virtlogd, which QEMU domains need),
// for the end-to-end sandbox suite. Only one can run on a machine: the
// network driver takes /run/libvirt's lock.
func StartSystemLibvirtd(t testing.TB) *Libvirtd {
	t.Helper()
	bin := RequireTool(t, "libvirtd")
	logd := RequireTool(t, "virtlogd")
	if os.Geteuid() != 0 {
		t.Skip("a system libvirtd needs root")
	}
	// QEMU domains log here; a domain on a network without dnsmasq still
	// writes its MAC list under dnsmasq/ (start fails without the directory).
	os.MkdirAll("/var/log/libvirt/qemu", 0o755)
	os.MkdirAll("/var/lib/libvirt/dnsmasq", 0o755)
	if c, err := net.Dial("unix", "/run/libvirt/virtlogd-sock"); err == nil {
		c.Close()
	} else {
		cmd := exec.Command(logd)
		if err := cmd.Start(); err != nil {
			t.Fatalf("virtlogd: %v", err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	dir, err := os.MkdirTemp("", "mi-libvirtd-sys-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := fmt.Sprintf("unix_sock_dir = %q\nunix_sock_rw_perms = \"0700\"\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\nlisten_tls = 0\nlisten_tcp = 0\nlog_outputs = \"3:stderr\"\n", dir)
	if err := os.WriteFile(filepath.Join(dir, "libvirtd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	l := &Libvirtd{Socket: filepath.Join(dir, "libvirt-sock"), dir: dir, bin: bin, t: t, system: true}
	l.Start()
	t.Cleanup(l.Stop)
	return l
}

// SystemURI is the sandbox.libvirt setting for a system libvirtd's qemu
// driver.
func (l *Libvirtd) SystemURI() string { return "qemu+unix:///system?socket=" + l.Socket }

// CreateNetwork starts a transient libvirt network (gone with the daemon).
func (l *Libvirtd) CreateNetwork(t testing.TB, xml string) {
	t.Helper()
	c, err := l.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	n, err := c.NetworkCreateXML(xml)
	if err != nil {
		t.Fatalf("network: %v", err)
	}
	t.Cleanup(func() {
		if c, err := l.Dial(); err == nil {
			c.NetworkDestroy(n)
			c.Disconnect()
		}
	})
}

// CreateStoragePool starts a transient storage pool (gone with the daemon;
// its directory stays, the test removes it).
func (l *Libvirtd) CreateStoragePool(t testing.TB, xml string) {
	t.Helper()
	c, err := l.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	sp, err := c.StoragePoolCreateXML(xml, 0)
	if err != nil {
		t.Fatalf("storage pool: %v", err)
	}
	t.Cleanup(func() {
		if c, err := l.Dial(); err == nil {
			c.StoragePoolDestroy(sp)
			c.Disconnect()
		}
	})
}
