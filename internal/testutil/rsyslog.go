package testutil

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Rsyslog is Debian's rsyslogd as a SOC's collector: plain UDP and TCP
// and TLS (a test CA's certificate) on loopback ports, every record it
// parses written as one JSON line of its properties.
type Rsyslog struct {
	UDP, TCP, TLS string // host:port of each input
	CAFile        string // the test CA that signed the TLS input's certificate
	dir, bin      string
	cmd           *exec.Cmd
	t             testing.TB
}

// Record is one record as rsyslog parsed it.
type Record struct {
	Host     string `json:"host"`
	App      string `json:"app"`
	MsgID    string `json:"msgid"`
	Severity string `json:"severity"`
	Facility string `json:"facility"`
	Input    string `json:"input"` // udp, tcp or tls
	Msg      string `json:"msg"`
}

// StartRsyslog starts rsyslogd for the test and stops it when the test
// ends.
func StartRsyslog(t testing.TB) *Rsyslog {
	t.Helper()
	bin := RequireTool(t, "rsyslogd")
	dir := t.TempDir()
	r := &Rsyslog{dir: dir, bin: bin, t: t, CAFile: filepath.Join(dir, "ca.pem")}
	writeTestPKI(t, dir)
	r.UDP, r.TCP, r.TLS = freePort(t, "udp"), freePort(t, "tcp"), freePort(t, "tcp")
	port := func(a string) string { _, p, _ := net.SplitHostPort(a); return p }
	conf := fmt.Sprintf(`global(workDirectory="%[1]s" maxMessageSize="64k"
  parser.escapeControlCharacterTab="off"
  defaultNetstreamDriverCAFile="%[1]s/ca.pem"
  defaultNetstreamDriverCertFile="%[1]s/cert.pem"
  defaultNetstreamDriverKeyFile="%[1]s/key.pem")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="%[2]s" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="%[3]s" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="%[4]s" ruleset="tls"
  streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
template(name="json" type="list" option.jsonf="on") {
  property(outname="host" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf")
  property(outname="facility" name="syslogfacility" format="jsonf")
  property(outname="input" name="$.input" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
ruleset(name="udp") { set $.input = "udp"; action(type="omfile" file="%[1]s/out.json" template="json") }
ruleset(name="tcp") { set $.input = "tcp"; action(type="omfile" file="%[1]s/out.json" template="json") }
ruleset(name="tls") { set $.input = "tls"; action(type="omfile" file="%[1]s/out.json" template="json") }
`, dir, port(r.UDP), port(r.TCP), port(r.TLS))
	if err := os.WriteFile(filepath.Join(dir, "rsyslog.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	r.Start()
	return r
}

func freePort(t testing.TB, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start starts rsyslogd (again) and waits until its TCP inputs listen.
func (r *Rsyslog) Start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "-n", "-f", filepath.Join(r.dir, "rsyslog.conf"), "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	var out strings.Builder
	r.cmd.Stdout, r.cmd.Stderr = &out, &out
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("rsyslogd: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range []string{r.TCP, r.TLS} {
		for {
			c, err := net.Dial("tcp", a)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				r.t.Fatalf("rsyslogd does not listen on %s: %s", a, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// Stop stops rsyslogd; what it received stays in its output.
func (r *Rsyslog) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	r.cmd.Wait()
	r.cmd = nil
}

// Records reads what rsyslog has written so far: whole lines only (it may
// be writing the last one).
func (r *Rsyslog) Records() []Record {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join(r.dir, "out.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		return nil
	}
	var recs []Record
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			r.t.Fatalf("rsyslog output %q: %v", line, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// writeTestPKI writes a test CA (ca.pem) and a certificate for 127.0.0.1
// and localhost signed by it (cert.pem, key.pem) into dir.
func writeTestPKI(t testing.TB, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Mail Inspector test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	caCert, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	for name, b := range map[string]*pem.Block{"ca.pem": {Type: "CERTIFICATE", Bytes: caDER},
		"cert.pem": {Type: "CERTIFICATE", Bytes: leafDER}, "key.pem": {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
