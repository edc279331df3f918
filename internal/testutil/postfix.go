package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Postfix is a private Postfix instance on loopback, with its own config,
// queue and data directories, started with `postfix -c DIR`. It relays
// every accepted message to Relayhost.
type Postfix struct {
	Dir  string
	Addr string // where its smtpd listens
	bin  string
}

// StartPostfix starts an instance relaying to relayhost (host:port) and
// accepting mail for example.com and example.org from 127.0.0.0/8. It is
// stopped and removed when the test ends.
func StartPostfix(t testing.TB, relayhost string, extraMainCF ...string) *Postfix {
	t.Helper()
	bin := RequireTool(t, "postfix")
	if os.Geteuid() != 0 {
		t.Skip("a private Postfix instance needs root")
	}
	pu, err := user.Lookup("postfix")
	if err != nil {
		t.Fatalf("postfix user: %v", err)
	}
	uid, _ := strconv.Atoi(pu.Uid)
	// Postfix's processes run as the postfix user: the directory must be
	// reachable for it, which t.TempDir's 0700 is not.
	dir, err := os.MkdirTemp("", "mailinspector-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	for _, d := range []string{"queue", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(dir, "data"), uid, -1); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	host, port, _ := net.SplitHostPort(relayhost)
	mainCF := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.test
mydomain = postfix.test
myorigin = postfix.test
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = example.com, example.org
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [%[2]s]:%[3]s
smtp_dns_support_level = disabled
smtp_tls_security_level = may
smtp_tls_loglevel = 1
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
`, dir, host, port)
	for _, l := range extraMainCF {
		mainCF += l + "\n"
	}
	masterCF := addr + " inet n - n - - smtpd\n" + `pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`
	for name, body := range map[string]string{"main.cf": mainCF, "master.cf": masterCF} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := &Postfix{Dir: dir, Addr: addr, bin: bin}
	if out, err := exec.Command(bin, "-c", dir, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
		os.RemoveAll(dir)
		t.Fatalf("postfix start: %v\n%s\n%s", err, out, log)
	}
	t.Cleanup(func() {
		exec.Command(bin, "-c", dir, "stop").Run()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
			t.Logf("postfix log:\n%s", log)
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix does not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log is the instance's mail log so far.
func (p *Postfix) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "maillog"))
	return string(b)
}
