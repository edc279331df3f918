package siem

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

var testProduct = Product{Vendor: "Mail Inspector", Name: "Mail Inspector", Version: "1.2.3", Host: "mi.example.com", Facility: 16}

func hostileEvent(subject, sender string) *Event {
	e := &Event{ID: "ev1", Kind: KindDetection, Name: "Message quarantined", At: time.UnixMilli(1764800000123), Risk: "high"}
	e.Add(FieldMessage, "0123ABC")
	e.Add(FieldSender, sender)
	e.Add(FieldRecipients, "bob@example.com")
	e.Add(FieldSubject, subject)
	e.Add(FieldThreats, "Eicar-Test-Signature")
	return e
}

// syslogMSG splits an RFC 5424 record into its header fields and MSG.
func syslogMSG(t testing.TB, rec []byte) (header []string, msg string) {
	parts := strings.SplitN(string(rec), " ", 8)
	if len(parts) != 8 {
		t.Fatalf("not an RFC 5424 record: %q", rec)
	}
	return parts[:7], parts[7]
}

// splitHeader reads n header fields split at unescaped pipes (a backslash
// escapes the next byte), and says where the rest begins.
func splitHeader(msg string, n int) (header []string, rest int) {
	var cur strings.Builder
	i := 0
	for ; i < len(msg) && len(header) < n; i++ {
		switch c := msg[i]; {
		case c == '\\' && i+1 < len(msg):
			i++
			cur.WriteByte(msg[i])
		case c == '|':
			header = append(header, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return header, i
}

// parseCEF is a strict reader of CEF as an ArcSight connector reads it:
// seven header fields split at unescaped pipes, then key=value pairs where
// a key is a word before an unescaped equals sign.
func parseCEF(t testing.TB, msg string) (header []string, ext map[string]string) {
	header, i := splitHeader(msg, 7)
	if len(header) != 7 {
		t.Fatalf("CEF header has %d fields: %q", len(header), msg)
	}
	ext = map[string]string{}
	rest := msg[i:]
	// Positions of unescaped '=' preceded by " key" or at the start.
	keyAt := regexp.MustCompile(`(?:^| )([A-Za-z0-9_]+)=`)
	var starts [][]int
	for _, m := range keyAt.FindAllStringSubmatchIndex(rest, -1) {
		eq := m[1] - 1
		if escaped(rest, eq) {
			continue
		}
		starts = append(starts, m)
	}
	for j, m := range starts {
		end := len(rest)
		if j+1 < len(starts) {
			end = starts[j+1][0]
		}
		key := rest[m[2]:m[3]]
		if _, dup := ext[key]; dup {
			t.Fatalf("key %s twice in %q", key, msg)
		}
		ext[key] = unescapeCEF(rest[m[1]:end])
	}
	return header, ext
}

// escaped says whether the byte at i follows an odd number of backslashes.
func escaped(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

func unescapeCEF(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
			switch v[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(v[i])
			}
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// expectValue is what a value must read back as: cleaned, with control
// characters other than the line breaks (and, for LEEF, the tab) turned
// into spaces.
func expectValue(v string, keep string) string {
	return strings.Map(func(r rune) rune {
		if (r < 0x20 || r == 0x7f) && !strings.ContainsRune(keep, r) {
			return ' '
		}
		return r
	}, clean(v))
}

func TestCEF(t *testing.T) {
	rec := testProduct.Format(FormatCEF, hostileEvent("Invoice | due", "alice@example.com"))
	h, msg := syslogMSG(t, rec)
	if want := []string{"<132>1", "2025-12-03T22:13:20.123Z", "mi.example.com", "mailinspector", "-", "detection", "-"}; strings.Join(h, " ") != strings.Join(want, " ") {
		t.Errorf("syslog header %q, want %q", h, want)
	}
	hdr, ext := parseCEF(t, msg)
	if got := strings.Join(hdr, "|"); got != "CEF:0|Mail Inspector|Mail Inspector|1.2.3|detection|Message quarantined|8" {
		t.Errorf("CEF header %q", got)
	}
	want := map[string]string{"rt": "1764800000123", "dvchost": "mi.example.com", "cat": "detection", "cs6Label": "eventId", "cs6": "ev1",
		"externalId": "0123ABC", "suser": "alice@example.com", "duser": "bob@example.com", "cs1Label": "mailMsgSubject", "cs1": "Invoice | due",
		"cs3Label": "threatNames", "cs3": "Eicar-Test-Signature"}
	if fmt.Sprint(ext) != fmt.Sprint(want) {
		t.Errorf("CEF extension\n got %v\nwant %v", ext, want)
	}
}

// A subject can hold anything a sender types: pipes, equals signs that
// look like keys, backslashes before them, line breaks, 10 kB of UTF-8.
// None of it may add, change or end a field.
var hostileSubjects = []string{
	`x act=allow suser=ceo@example.com`,
	`x\ act\=allow \\ suser=evil`,
	"x\r\nCEF:0|Evil|Evil|1|x|y|10|act=allow",
	"x\tsev=1\tsender=evil@example.com",
	`trailing backslash \`,
	"nul\x00 and esc\x1b[31m",
	strings.Repeat("ünïcödé ✉ ", 1000),
	"\xff\xfe broken UTF-8 = \\",
}

// present is 1 when a field of value v is in a record (Event.Add leaves
// out empty ones).
func present(v string) int {
	if v == "" {
		return 0
	}
	return 1
}

func TestCEFHostileValues(t *testing.T) {
	for _, s := range hostileSubjects {
		checkCEF(t, s, "alice@example.com")
	}
}

func checkCEF(t *testing.T, subject, sender string) {
	t.Helper()
	rec := testProduct.Format(FormatCEF, hostileEvent(subject, sender))
	if strings.ContainsAny(string(rec), "\r\n") {
		t.Fatalf("a line break in the record: %q", rec)
	}
	_, msg := syslogMSG(t, rec)
	hdr, ext := parseCEF(t, msg)
	if hdr[6] != "8" {
		t.Fatalf("severity forged: %q", hdr)
	}
	if want := 9 + 2*present(subject) + present(sender); len(ext) != want {
		t.Fatalf("subject %q: %d keys %v", subject, len(ext), ext)
	}
	if got, want := ext["cs1"], expectValue(subject, "\r\n"); got != want {
		t.Fatalf("subject %q read back as %q, want %q", subject, got, want)
	}
	if got, want := ext["suser"], expectValue(sender, "\r\n"); got != want {
		t.Fatalf("sender %q read back as %q, want %q", sender, got, want)
	}
	if len(rec) > 8192 {
		t.Fatalf("record of %d bytes", len(rec))
	}
}

func FuzzCEF(f *testing.F) {
	for _, s := range hostileSubjects {
		f.Add(s, "a=b|c@example.com")
	}
	f.Fuzz(func(t *testing.T, subject, sender string) {
		checkCEF(t, subject, sender)
	})
}

// parseLEEF reads LEEF 1.0 as QRadar does: five header fields split at
// unescaped pipes, then tab-separated attributes, each key before its
// first equals sign.
func parseLEEF(t testing.TB, msg string) (header []string, attrs map[string]string) {
	header, i := splitHeader(msg, 5)
	if len(header) != 5 {
		t.Fatalf("LEEF header has %d fields: %q", len(header), msg)
	}
	attrs = map[string]string{}
	for _, a := range strings.Split(msg[i:], "\t") {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			t.Fatalf("attribute without a key: %q in %q", a, msg)
		}
		if _, dup := attrs[k]; dup {
			t.Fatalf("key %s twice", k)
		}
		var b strings.Builder
		for j := 0; j < len(v); j++ {
			if v[j] == '\\' && j+1 < len(v) {
				j++
				switch v[j] {
				case 't':
					b.WriteByte('\t')
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				default:
					b.WriteByte(v[j])
				}
				continue
			}
			b.WriteByte(v[j])
		}
		attrs[k] = b.String()
	}
	return header, attrs
}

func checkLEEF(t *testing.T, subject, sender string) {
	t.Helper()
	rec := testProduct.Format(FormatLEEF, hostileEvent(subject, sender))
	if strings.ContainsAny(string(rec), "\r\n") {
		t.Fatalf("a line break in the record: %q", rec)
	}
	_, msg := syslogMSG(t, rec)
	hdr, attrs := parseLEEF(t, msg)
	if got := strings.Join(hdr, "|"); got != "LEEF:1.0|Mail Inspector|Mail Inspector|1.2.3|detection" {
		t.Fatalf("LEEF header %q", got)
	}
	if want := 8 + present(subject) + present(sender); len(attrs) != want || attrs["sev"] != "8" {
		t.Fatalf("subject %q: attributes %v", subject, attrs)
	}
	if got, want := attrs["subject"], expectValue(subject, "\r\n\t"); got != want {
		t.Fatalf("subject %q read back as %q, want %q", subject, got, want)
	}
	if got, want := attrs["sender"], expectValue(sender, "\r\n\t"); got != want {
		t.Fatalf("sender %q read back as %q, want %q", sender, got, want)
	}
}

func TestLEEFHostileValues(t *testing.T) {
	for _, s := range hostileSubjects {
		checkLEEF(t, s, "alice@example.com")
	}
}

func FuzzLEEF(f *testing.F) {
	for _, s := range hostileSubjects {
		f.Add(s, "a\tb=c@example.com")
	}
	f.Fuzz(func(t *testing.T, subject, sender string) {
		checkLEEF(t, subject, sender)
	})
}

func TestJSON(t *testing.T) {
	for _, s := range hostileSubjects {
		rec := testProduct.Format(FormatJSON, hostileEvent(s, "alice@example.com"))
		if strings.ContainsAny(string(rec), "\r\n") {
			t.Fatalf("a line break in the record: %q", rec)
		}
		_, msg := syslogMSG(t, rec)
		var o map[string]any
		if err := json.Unmarshal([]byte(msg), &o); err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
		if o["subject"] != clean(s) || o["severity"] != 8.0 || o["sender"] != "alice@example.com" || o["eventId"] != "ev1" {
			t.Fatalf("subject %q: %v", s, o)
		}
	}
}

func TestSeverity(t *testing.T) {
	for risk, want := range map[string]int{"unrated": 2, "none": 2, "low": 4, "medium": 6, "high": 8, "": 3} {
		if got := Severity(risk); got != want {
			t.Errorf("Severity(%q) = %d, want %d", risk, got, want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]string{
		"udp://10.0.0.5:514":                      "udp://10.0.0.5:514 cef",
		"tls://siem.example.com:6514?format=leef": "tls://siem.example.com:6514 leef",
		"TCP://[::1]:601?format=rfc5424-json":     "tcp://[::1]:601 rfc5424-json",
	} {
		got, err := ParseTarget(in)
		if err != nil || got.Name() != want {
			t.Errorf("ParseTarget(%q) = %q, %v; want %q", in, got.Name(), err, want)
		}
	}
	for _, bad := range []string{"syslog.example.com:514", "http://x:1", "udp://x", "udp://x:0", "udp://:514",
		"tcp://x:514?format=xml", "tcp://x:514?fmt=cef", "tcp://u@x:514", "tcp://x:514/path"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) took it", bad)
		}
	}
}
