package delivery

import "strings"

// PathAddress writes an address for MAIL FROM and RCPT TO as RFC 5321
// 4.1.2 has it. The SMTP server takes the quotes off a quoted local part
// when it reads one ("a b"@example.com arrives as a b@example.com): a local
// part that is not a dot-string goes out quoted again, with backslashes
// before quotes and backslashes, so that nothing in it is read as the end
// of the path or an ESMTP parameter ("x> NOTIFY=NEVER"@example.com stays
// one address).
func PathAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return addr // the null reverse-path, or not an address we made
	}
	local, domain := addr[:at], addr[at:]
	if isDotString(local) {
		return addr
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if local[i] == '"' || local[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	return b.String() + domain
}

// isDotString: atoms of atext (RFC 5321 4.1.2; UTF-8 allowed, RFC 6531)
// joined by single dots.
func isDotString(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80:
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0:
		default:
			return false
		}
	}
	return true
}
