package appliance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"mime/quotedprintable"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

var eicar = testutil.EICAR

func b64lines(b []byte) string { return testutil.Base64Lines(b) }

func zipped(t *testing.T, files map[string][]byte) []byte { return testutil.Zip(t, files) }

func withAttachment(subject, ctype, filename string, content []byte) string {
	return "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: " + subject + "\r\nDate: Fri, 27 Nov 2026 08:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--b1\r\nContent-Type: " + ctype + "\r\nContent-Disposition: attachment; filename=\"" + filename + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64lines(content) + "--b1--\r\n"
}

// encryptedZipMessage attaches EICAR in a zip that Info-ZIP encrypted with
// password, under the given text.
func encryptedZipMessage(t *testing.T, text, password string) string {
	zipBin := testutil.RequireTool(t, "zip")
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "eicar.com"), []byte(eicar), 0o644))
	cmd := exec.Command(zipBin, "-q", "-P", password, "secure.zip", "eicar.com")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zip: %v %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "secure.zip"))
	must(t, err)
	return "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: secure\r\nDate: Fri, 27 Nov 2026 08:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: application/zip\r\n" +
		"Content-Disposition: attachment; filename=\"secure.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64lines(data) +
		"--b1\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n--b1--\r\n"
}

var updateCorpus = flag.Bool("update", false, "rewrite testdata/corpus from the builders")

// corpusCase is one message of the project's corpus (testdata/corpus/NAME.eml)
// and what the appliance must make of it.
type corpusCase struct {
	name     string
	build    func(t *testing.T) string // how the file was made (go test -run Corpus -update)
	state    string
	finding  string // clamd signature prefix ("" = no clamd finding)
	location string
	extra    string // another finding's name that must be there
}

func corpusCases() []corpusCase {
	nested := func(t *testing.T) []byte {
		return zipped(t, map[string][]byte{"outer/inner.zip": zipped(t, map[string][]byte{"eicar.com": []byte(eicar)})})
	}
	qp := func() string {
		var b bytes.Buffer
		qw := quotedprintable.NewWriter(&b)
		qw.Write([]byte("Dear user, =here is the text: " + eicar + " end"))
		qw.Close()
		return b.String()
	}
	head := func(subject, ctype string) string {
		return "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: " + subject + "\r\nDate: Fri, 27 Nov 2026 08:00:00 +0000\r\n" +
			"MIME-Version: 1.0\r\nContent-Type: " + ctype + "\r\n"
	}
	attachedMsg := "From: x@example.net\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
		"--in\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=e.com\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64lines([]byte(eicar)) + "--in--\r\n"
	deep := func() string {
		var b strings.Builder
		b.WriteString(head("deep", "multipart/mixed; boundary=\"d0\""))
		b.WriteString("\r\n")
		for i := 0; i < 60; i++ {
			fmt.Fprintf(&b, "--d%d\r\nContent-Type: multipart/mixed; boundary=\"d%d\"\r\n\r\n", i, i+1)
		}
		b.WriteString("--d60\r\nContent-Type: text/plain\r\n\r\nat the bottom\r\n")
		for i := 60; i >= 0; i-- {
			fmt.Fprintf(&b, "--d%d--\r\n", i)
		}
		return b.String()
	}
	return []corpusCase{
		{"clean", func(t *testing.T) string {
			return withAttachment("clean", "application/pdf", "report.pdf", []byte("%PDF-1.4 harmless"))
		}, store.StateDelivered, "", "", ""},
		{"eicar-nested-zip", func(t *testing.T) string { return withAttachment("nested", "application/zip", "docs.zip", nested(t)) },
			store.StateQuarantined, "MailInspector.Test.EICAR", "part 2 (docs.zip): docs.zip/outer/inner.zip/eicar.com", ""},
		{"eicar-misnamed", func(t *testing.T) string {
			return withAttachment("misnamed", "application/pdf", "invoice.pdf", zipped(t, map[string][]byte{"a.com": []byte(eicar)}))
		}, store.StateQuarantined, "MailInspector.Test.EICAR", "part 2 (invoice.pdf): invoice.pdf/a.com", "type-mismatch"},
		{"eicar-qp-text", func(t *testing.T) string {
			return head("qp", "text/plain") + "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp() + "\r\n"
		}, store.StateQuarantined, "MailInspector.Test.EICAR.Body", "part 1", ""},
		{"eicar-attached-message", func(t *testing.T) string {
			return head("fwd", "multipart/mixed; boundary=o") + "\r\n--o\r\nContent-Type: text/plain\r\n\r\nforwarded\r\n" +
				"--o\r\nContent-Type: message/rfc822\r\n\r\n" + attachedMsg + "--o--\r\n"
		}, store.StateQuarantined, "MailInspector.Test.EICAR", "part 2.2 (e.com) in an attached message", ""},
		{"yara", func(t *testing.T) string {
			return withAttachment("yara", "text/plain", "notes.txt", []byte("xx MAILINSPECTOR-YARA-TEST-7f3c xx"))
		}, store.StateQuarantined, "YARA.MailInspector_Test_YARA", "part 2 (notes.txt)", ""},
		{"encrypted-zip-password-in-body", func(t *testing.T) string {
			return encryptedZipMessage(t, "Your documents. The password is: Tr1cky-42", "Tr1cky-42")
		}, store.StateQuarantined, "MailInspector.Test.EICAR", "part 1 (secure.zip): secure.zip/eicar.com", ""}, // the password comes after the zip
		{"encrypted-zip-no-password", func(t *testing.T) string { return encryptedZipMessage(t, "No password for you.", "Tr1cky-42") },
			store.StateQuarantined, "", "", "unscannable"}, // held: nothing could look inside
		{"zip-bomb", func(t *testing.T) string {
			return withAttachment("bomb", "application/zip", "bomb.zip", zipped(t, map[string][]byte{"zeros": make([]byte, 50<<20)}))
		}, store.StateQuarantined, "", "", "unscannable"},
		{"disguised-exe", func(t *testing.T) string {
			return withAttachment("exe", "application/pdf", "invoice.pdf", []byte("MZ\x90\x00 a program that is not a PDF"))
		}, store.StateQuarantined, "", "", "disguised-executable"},
		{"malformed-mime", func(t *testing.T) string {
			return head("broken", "multipart/mixed; boundary=x") + "\r\n--x\r\nContent-Type: text/plain\r\n\r\nstart\r\n" +
				"--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64 at all\r\n"
		}, store.StateDelivered, "", "", "malformed"}, // junk skipped and no closing delimiter: read whole, as clients read it
		// Past the walk's depth limit: what lies there was not looked at.
		{"deep-nesting", func(t *testing.T) string { return deep() }, store.StateQuarantined, "", "", "unscannable"},
		{"tricky-html-links", func(t *testing.T) string {
			return head("links", "text/html; charset=utf-8") + "\r\n<html><head><base href=\"https://EVIL.example/app/\"></head><body>" +
				"<a href=\"login\">Sign in</a> <a href=\"https://safe.example/\">safe</a> <a href=\"javascript:alert(1)\">js</a></body></html>\r\n"
		}, store.StateQuarantined, "", "", "blocked-domain"},
	}
}

// TestCorpus sends the project's corpus (testdata/corpus) through SMTP to a
// daemon with a private clamd and checks each verdict, and that the daemon
// stays up throughout.
func TestCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "corpus")
	cases := corpusCases()
	if *updateCorpus {
		must(t, os.MkdirAll(dir, 0o755))
		for _, c := range cases {
			must(t, os.WriteFile(filepath.Join(dir, c.name+".eml"), []byte(c.build(t)), 0o644))
		}
	}
	cd := testutil.StartClamd(t)
	sink := testutil.NewSink(t)
	data := t.TempDir()
	// Disguised files are medium risk, threat "suspicious file": this
	// corpus's policy holds them. It has no unscannable rule: it gets the
	// default policy's, which holds what could not be looked at.
	must(t, os.WriteFile(filepath.Join(data, "policies.conf"), []byte("policy \"Corpus\"\n  high quarantine\n  threat suspicious file quarantine\n  medium tag\n"), 0o640))
	a := startApp(t, data, map[string]string{"delivery.relay": sink.Addr, "engine.clamd": cd.Spec(), "lists.blocked_domains": "evil.example"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, c.name+".eml"))
			if err != nil {
				t.Fatalf("%v (go test ./appliance -run TestCorpus -update writes the corpus)", err)
			}
			before, _ := a.Messages(t.Context(), 1000)
			must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, string(body)))
			after, _ := a.Messages(t.Context(), 1000)
			if len(after) != len(before)+1 {
				t.Fatalf("messages %d -> %d", len(before), len(after))
			}
			d := waitState(t, a, after[0].ID, c.state, 10*time.Second)
			var clam, other bool
			for _, f := range d.Findings {
				if f.Engine == "clamd" && c.finding != "" && strings.HasPrefix(f.Name, c.finding) {
					clam = true
					if f.Location != c.location || f.Risk != "high" || f.Threat != "malware" {
						t.Errorf("finding %+v, want location %q", f, c.location)
					}
				}
				if c.extra != "" && f.Name == c.extra {
					other = true
				}
				if c.finding == "" && f.Engine == "clamd" {
					t.Fatalf("unexpected clamd finding %+v", f)
				}
			}
			if c.finding != "" && !clam || c.extra != "" && !other {
				t.Fatalf("findings %+v", d.Findings)
			}
			for _, e := range d.Trail {
				if e.Stage == "pattern-engine" && (e.Outcome == "skipped" || e.Outcome == "error") {
					t.Fatalf("pattern engine %s: %s", e.Outcome, e.Detail)
				}
			}
		})
	}
	if err := sendMail(a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("still up", "")); err != nil {
		t.Fatalf("the daemon stopped answering after the corpus: %v", err)
	}
}

// TestClamdDownOrSilentMailFlows: the degradation contract for clamd. The
// scan is skipped and says why, and the wait is bounded by
// engine.clamd_timeout; what was not scanned is not clean: the message is
// unrated, an attachment is held as unscannable (releasable) and a text is
// delivered (engine.clamd_on_error=pass, the default policy). When clamd is
// back the next message is scanned again with nothing done.
func TestClamdDownOrSilentMailFlows(t *testing.T) {
	cd := testutil.StartClamd(t)
	sink := testutil.NewSink(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	must(t, err)
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	cd.Stop()
	for _, tc := range []struct{ name, spec, reason string }{
		{"down", cd.Spec(), "clamd: dial unix"},
		{"silent", silent.Addr().String(), "no answer within 500ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "engine.clamd": tc.spec, "engine.clamd_timeout": "500ms"})
			start := time.Now()
			must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, withAttachment("x", "application/zip", "a.zip", []byte(eicar))))
			d := waitState(t, a, onlyMessage(t, a).ID, store.StateQuarantined, 10*time.Second)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("message took %s with clamd %s", el, tc.name)
			}
			if e := trailEntry(d, "pattern-engine"); e.Outcome != "skipped" || e.Service != "clamd" || !strings.Contains(e.Detail, tc.reason) {
				t.Fatalf("trail entry %+v, want skipped with %q", e, tc.reason)
			}
			f := findingNamed(d, "unscannable")
			if d.Risk != "unrated" || d.Reason != "unscannable" || f == nil || f.Location != "part 2 (a.zip)" || !strings.Contains(f.Detail, tc.reason) {
				t.Fatalf("verdict %+v findings %+v: want unrated, held as unscannable", d.MessageSummary, d.Findings)
			}
			// A text without attachments is delivered, unrated.
			must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("text", "")))
			ms, _ := a.Messages(t.Context(), 10)
			d = waitState(t, a, ms[0].ID, store.StateDelivered, 10*time.Second)
			if d.Risk != "unrated" || findingNamed(d, "not-scanned") == nil {
				t.Fatalf("text with clamd %s: risk %q findings %+v", tc.name, d.Risk, d.Findings)
			}
			if tc.name != "down" {
				return
			}
			// clamd comes back: the next message is scanned, nothing done.
			cd.Start(t)
			must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, withAttachment("y", "application/zip", "b.zip", []byte(eicar))))
			ms, _ = a.Messages(t.Context(), 10)
			d = waitState(t, a, ms[0].ID, store.StateQuarantined, 10*time.Second)
			if len(d.Findings) == 0 || d.Findings[0].Engine != "clamd" || d.Reason != "threat" {
				t.Fatalf("after clamd came back: %+v", d.Findings)
			}
		})
	}
}

// TestMediumRiskIsTaggedOnDelivery: the default policy passes and tags a
// medium-risk message (here a disguised executable): subject tag and
// X-MailInspector headers, and a sender's own X-MailInspector-Risk is
// dropped.
func TestMediumRiskIsTaggedOnDelivery(t *testing.T) {
	cd := testutil.StartClamd(t)
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "engine.clamd": cd.Spec()})
	body := strings.Replace(withAttachment("Invoice", "application/pdf", "invoice.pdf", []byte("MZ\x90\x00 not a PDF")),
		"Subject: Invoice\r\n", "Subject: Invoice\r\nX-MailInspector-Risk: none\r\n", 1)
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, body))
	got := sink.WaitFor(t, 1, 10*time.Second)
	data := string(got[0].Data)
	for _, want := range []string{"Subject: [Suspicious] Invoice\r\n", "X-MailInspector-Risk: medium\r\n", "X-MailInspector-Threats: suspicious file\r\n"} {
		if !strings.Contains(data, want) {
			t.Errorf("delivered message lacks %q", want)
		}
	}
	if strings.Contains(data, "X-MailInspector-Risk: none") {
		t.Error("the sender's forged X-MailInspector-Risk was delivered")
	}
	d := waitState(t, a, onlyMessage(t, a).ID, store.StateDelivered, 5*time.Second)
	if d.Action != "tag" || d.Risk != "medium" {
		t.Fatalf("verdict %+v", d.MessageSummary)
	}
}

// TestApprovedHashIsAnObjectException: a file the administrator approved
// by hash does not count even when clamd convicts it (DDEI's object
// exceptions); the trail says why.
func TestApprovedHashIsAnObjectException(t *testing.T) {
	cd := testutil.StartClamd(t)
	sink := testutil.NewSink(t)
	sum := sha256.Sum256([]byte(eicar))
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "engine.clamd": cd.Spec(),
		"lists.approved_hashes": hex.EncodeToString(sum[:])})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"},
		withAttachment("approved", "application/octet-stream", "test.com", []byte(eicar))))
	d := waitState(t, a, onlyMessage(t, a).ID, store.StateDelivered, 10*time.Second)
	for _, f := range d.Findings {
		if f.Engine == "clamd" {
			t.Fatalf("exempted finding kept: %+v", f)
		}
	}
	found := false
	for _, e := range d.Trail {
		found = found || e.Stage == "exception" && strings.Contains(e.Detail, "clamd finding MailInspector.Test.EICAR") &&
			strings.Contains(e.Detail, "is approved")
	}
	if !found {
		t.Fatalf("no exception in the trail: %+v", d.Trail)
	}
}

// TestClamdArchivesWholeOrMembers: engine.clamd_archives. whole sends an
// archive to clamd once (the trail counts the scans); members sends each
// file. Whole also catches what lies past our own archive limits, since
// clamd opens the archive itself: then the finding names the archive.
func TestClamdArchivesWholeOrMembers(t *testing.T) {
	cd := testutil.StartClamd(t)
	sink := testutil.NewSink(t)
	files := map[string][]byte{}
	for i := range 5 {
		files[fmt.Sprintf("word/part%d.xml", i)] = []byte(strings.Repeat("<w:t>harmless</w:t>", 50))
	}
	clean := withAttachment("clean", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "report.docx", zipped(t, files))
	// Our walker opens five files (archive.max_members=5); EICAR is the sixth.
	six := map[string][]byte{"z.com": []byte(eicar)}
	for i := range 5 {
		six[fmt.Sprintf("a%d.txt", i)] = []byte("harmless")
	}
	pastLimit := withAttachment("past", "application/zip", "six.zip", zipped(t, six))
	for _, tc := range []struct {
		mode, cleanScans string
		pastFinding      bool // clamd finds EICAR past our member limit; else it is held as unscannable
	}{
		{"whole", "2 parts scanned", true},    // the body text and the .docx
		{"members", "6 parts scanned", false}, // the body text and 5 files
	} {
		t.Run(tc.mode, func(t *testing.T) {
			a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "engine.clamd": cd.Spec(),
				"engine.clamd_archives": tc.mode, "archive.max_members": "5"})
			must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, clean))
			d := waitState(t, a, onlyMessage(t, a).ID, store.StateDelivered, 10*time.Second)
			if got := trailEntry(d, "pattern-engine").Detail; got != tc.cleanScans {
				t.Errorf("clean .docx: pattern engine %q, want %q", got, tc.cleanScans)
			}
			must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, pastLimit))
			ms, _ := a.Messages(t.Context(), 10)
			d = waitState(t, a, ms[0].ID, store.StateQuarantined, 10*time.Second)
			if !tc.pastFinding && (d.Reason != "unscannable" || findingNamed(d, "unscannable") == nil) {
				t.Errorf("the files past the member limit: reason %q findings %+v, want held as unscannable", d.Reason, d.Findings)
			}
			var got []string
			for _, f := range d.Findings {
				if f.Engine == "clamd" {
					got = append(got, f.Name+" at "+f.Location)
				}
			}
			// The archive itself is named: no file of it alone that we opened is infected.
			found := len(got) == 1 && strings.HasPrefix(got[0], "MailInspector.Test.EICAR") && strings.HasSuffix(got[0], " at part 2 (six.zip)")
			if found != tc.pastFinding || !found && len(got) > 0 {
				t.Errorf("EICAR past the member limit: clamd findings %q, want one on part 2 (six.zip): %v", got, tc.pastFinding)
			}
		})
	}
}

// TestClamdOnErrorDeferAndQuarantine: engine.clamd_on_error. defer holds a
// message clamd could not scan in the queue and scans it once clamd is
// back (here EICAR: quarantined as a threat); past engine.clamd_defer_for
// it is quarantined as unscannable. quarantine holds even a text.
func TestClamdOnErrorDeferAndQuarantine(t *testing.T) {
	cd := testutil.StartClamd(t)
	sink := testutil.NewSink(t)
	cd.Stop()
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "engine.clamd": cd.Spec(),
		"engine.clamd_on_error": "defer", "engine.clamd_defer_for": "1m"})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, withAttachment("x", "application/zip", "a.zip", []byte(eicar))))
	id := onlyMessage(t, a).ID
	d := waitState(t, a, id, store.StateAnalysing, 10*time.Second)
	if e := trailEntry(d, "pattern-engine"); e.Outcome != "skipped" || !strings.Contains(e.Detail, "analysed again in") {
		t.Fatalf("deferred: %+v", e)
	}
	cd.Start(t)
	d = waitState(t, a, id, store.StateQuarantined, 20*time.Second)
	if d.Reason != "threat" || !hasFinding(d, "clamd", "") {
		t.Fatalf("after clamd came back: reason %q findings %+v", d.Reason, d.Findings)
	}

	cd.Stop()
	b := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "engine.clamd": cd.Spec(),
		"engine.clamd_on_error": "defer", "engine.clamd_defer_for": "2s"})
	must(t, send(t, b.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("waited", "")))
	d = waitState(t, b, onlyMessage(t, b).ID, store.StateQuarantined, 20*time.Second)
	if d.Reason != "unscannable" || d.Risk != "unrated" {
		t.Fatalf("past clamd_defer_for: %+v", d.MessageSummary)
	}

	c := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "engine.clamd": cd.Spec(), "engine.clamd_on_error": "quarantine"})
	must(t, send(t, c.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("text", "")))
	d = waitState(t, c, onlyMessage(t, c).ID, store.StateQuarantined, 10*time.Second)
	if d.Reason != "unscannable" || !strings.Contains(trailEntry(d, "policy").Detail, "quarantine (unscannable)") {
		t.Fatalf("quarantine mode: %+v trail %+v", d.MessageSummary, d.Trail)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Fatalf("%d messages delivered", n)
	}
}
