package siem

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Formats a collector can ask for.
const (
	FormatCEF  = "cef"
	FormatLEEF = "leef"
	FormatJSON = "rfc5424-json"
)

// Product names the appliance in every record's header.
type Product struct {
	Vendor, Name, Version string
	Host                  string // the syslog HOSTNAME
	Facility              int    // 0–23 (16 is local0)
}

// appName is RFC 5424's APP-NAME of every record.
const appName = "mailinspector"

// Format makes one syslog message, RFC 5424 header and all, of e: the
// bytes a collector receives in one UDP datagram or one octet-counted
// frame.
func (p Product) Format(format string, e *Event) []byte {
	sev := Severity(e.Risk)
	var msg string
	switch format {
	case FormatLEEF:
		msg = p.leef(e, sev)
	case FormatJSON:
		msg = p.json(e, sev)
	default:
		msg = p.cef(e, sev)
	}
	// <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
	pri := p.Facility*8 + syslogSeverity(sev)
	return []byte(fmt.Sprintf("<%d>1 %s %s %s - %s - %s", pri, e.At.UTC().Format("2006-01-02T15:04:05.000Z"),
		headerWord(p.Host, 255), appName, headerWord(e.Kind, 32), msg))
}

// headerWord makes s a header field of RFC 5424: printable US-ASCII
// without spaces, at most max bytes, "-" when empty.
func headerWord(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		if c := s[i]; c > 32 && c < 127 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// clean makes a value safe to put anywhere: valid UTF-8, at most maxValue
// bytes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxValue {
		return s
	}
	cut := maxValue - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// cef is ArcSight's Common Event Format (revision 25):
// CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension
func (p Product) cef(e *Event, sev int) string {
	var b strings.Builder
	b.WriteString("CEF:0")
	for _, h := range []string{p.Vendor, p.Name, p.Version, signatureID(e.Kind), e.Name} {
		b.WriteByte('|')
		b.WriteString(CEFHeader(clean(h)))
	}
	fmt.Fprintf(&b, "|%d|", sev)
	b.WriteString("rt=" + strconv.FormatInt(e.At.UnixMilli(), 10))
	b.WriteString(" dvchost=" + CEFValue(p.Host))
	b.WriteString(" cat=" + CEFValue(e.Kind))
	b.WriteString(" cs6Label=eventId cs6=" + CEFValue(e.ID))
	for _, f := range e.Fields {
		k, ok := fieldKeys[f.Name]
		if !ok {
			continue
		}
		if k.cefLabel != "" {
			b.WriteString(" " + k.cef + "Label=" + k.cefLabel)
		}
		b.WriteString(" " + k.cef + "=" + CEFValue(clean(f.Value)))
	}
	return b.String()
}

// signatureID is an event's CEF Signature ID and LEEF Event ID: its kind,
// but a click's is CTP_DETECTION, the name DDEI's SIEM guide gives
// time-of-click events (rules written for DDEI match it).
func signatureID(kind string) string {
	if kind == KindClick {
		return "CTP_DETECTION"
	}
	return kind
}

// escape writes s with the runes of special replaced by their escapes and
// every other control character by a space.
func escape(s string, special map[rune]string) string {
	var b strings.Builder
	for _, r := range s {
		if e, ok := special[r]; ok {
			b.WriteString(e)
		} else if r < 0x20 || r == 0x7f {
			b.WriteByte(' ')
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var (
	cefHeaderEscapes = map[rune]string{'|': `\|`, '\\': `\\`}
	cefValueEscapes  = map[rune]string{'=': `\=`, '\\': `\\`, '\n': `\n`, '\r': `\r`}
	leefValueEscapes = map[rune]string{'\\': `\\`, '\t': `\t`, '\n': `\n`, '\r': `\r`}
)

// CEFHeader escapes a CEF header field: a pipe and a backslash get a
// backslash; line breaks become spaces (a header has no escape for them).
func CEFHeader(s string) string { return escape(s, cefHeaderEscapes) }

// CEFValue escapes a CEF extension value: an equals sign and a backslash
// get a backslash, CR and LF become \r and \n; other control characters
// become spaces. Nothing in a value can then start a new key.
func CEFValue(s string) string { return escape(s, cefValueEscapes) }

// leef is IBM QRadar's Log Event Extended Format 1.0: a pipe-separated
// header, then key=value attributes separated by tabs.
// LEEF:1.0|Vendor|Product|Version|EventID|attributes
func (p Product) leef(e *Event, sev int) string {
	var b strings.Builder
	b.WriteString("LEEF:1.0")
	for _, h := range []string{p.Vendor, p.Name, p.Version, signatureID(e.Kind)} {
		b.WriteByte('|')
		b.WriteString(LEEFHeader(clean(h)))
	}
	b.WriteByte('|')
	b.WriteString("devTime=" + strconv.FormatInt(e.At.UnixMilli(), 10))
	b.WriteString("\tsev=" + strconv.Itoa(sev))
	b.WriteString("\tcat=" + LEEFValue(e.Kind))
	b.WriteString("\tname=" + LEEFValue(clean(e.Name)))
	b.WriteString("\teventId=" + LEEFValue(e.ID))
	for _, f := range e.Fields {
		k, ok := fieldKeys[f.Name]
		if !ok {
			continue
		}
		b.WriteString("\t" + k.leef + "=" + LEEFValue(clean(f.Value)))
	}
	return b.String()
}

// LEEFHeader escapes a LEEF header field as CEFHeader does a CEF one.
func LEEFHeader(s string) string { return CEFHeader(s) }

// LEEFValue escapes a LEEF attribute value: the tab that separates
// attributes becomes \t, a backslash \\, line breaks \n and \r, other
// control characters spaces. An equals sign needs nothing: an attribute's
// key ends at its first one and every key is the appliance's own.
func LEEFValue(s string) string { return escape(s, leefValueEscapes) }

// json is one JSON object per record, the canonical field names as keys.
func (p Product) json(e *Event, sev int) string {
	o := map[string]any{"eventId": e.ID, "kind": e.Kind, "name": clean(e.Name), "time": e.At.UTC().Format(time.RFC3339Nano),
		"severity": sev, "host": p.Host, "product": p.Name, "version": p.Version}
	for _, f := range e.Fields {
		if _, ok := fieldKeys[f.Name]; ok {
			o[f.Name] = clean(f.Value)
		}
	}
	data, _ := json.Marshal(o) // strings and ints only: cannot fail
	return string(data)
}
