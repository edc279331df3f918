package message

import (
	"bytes"
	"unicode/utf8"
)

// Types by their first bytes. The order matters where one format is a
// prefix of another.
var magics = []struct {
	offset int
	sig    string
	typ    string
}{
	{0, "PK\x03\x04", "application/zip"},
	{0, "PK\x05\x06", "application/zip"}, // empty archive
	{0, "PK\x07\x08", "application/zip"}, // spanned
	{0, "\x1f\x8b", "application/gzip"},
	{0, "%PDF-", "application/pdf"},
	{0, "MZ", "application/x-dosexec"},
	{0, "\x7fELF", "application/x-executable"},
	{0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"}, // .doc, .xls, .msi
	{0, "Rar!\x1a\x07", "application/x-rar"},
	{0, "7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"},
	{0, "BZh", "application/x-bzip2"},
	{0, "\xfd7zXZ\x00", "application/x-xz"},
	{0, "MSCF", "application/vnd.ms-cab-compressed"},
	{0, "{\\rtf", "application/rtf"},
	{0, "\x89PNG\r\n\x1a\n", "image/png"},
	{0, "\xff\xd8\xff", "image/jpeg"},
	{0, "GIF87a", "image/gif"},
	{0, "GIF89a", "image/gif"},
	{0, "#!", "text/x-script"},
	{257, "ustar", "application/x-tar"},
	{0, "\xca\xfe\xba\xbe", "application/x-mach-binary"},
	{0, "\xcf\xfa\xed\xfe", "application/x-mach-binary"},
	{0, "ITSF", "application/vnd.ms-htmlhelp"},
	{0, "\x4c\x00\x00\x00\x01\x14\x02\x00", "application/x-ms-shortcut"},
}

// TrueType names the type of content from its first bytes (at least 512
// of them where there are so many), whatever the sender declared.
func TrueType(head []byte) string {
	for _, m := range magics {
		if len(head) >= m.offset+len(m.sig) && string(head[m.offset:m.offset+len(m.sig)]) == m.sig {
			return m.typ
		}
	}
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	lower := bytes.ToLower(trimmed[:min(len(trimmed), 64)])
	switch {
	case len(head) == 0:
		return "application/x-empty"
	case bytes.HasPrefix(lower, []byte("<!doctype html")), bytes.HasPrefix(lower, []byte("<html")),
		bytes.HasPrefix(lower, []byte("<head")), bytes.HasPrefix(lower, []byte("<body")):
		return "text/html"
	case bytes.HasPrefix(lower, []byte("<?xml")):
		return "text/xml"
	case looksText(head):
		return "text/plain"
	}
	return "application/octet-stream"
}

// looksText: valid UTF-8 (a cut last rune allowed) with few control bytes.
func looksText(b []byte) bool {
	ctl := 0
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' {
			ctl++
		}
	}
	if ctl*100 > len(b) {
		return false
	}
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 && len(b) > utf8.UTFMax {
			return false
		}
		b = b[n:]
	}
	return true
}

// extTypes maps file name extensions to the type they claim.
var extTypes = map[string]string{
	".zip": "application/zip", ".gz": "application/gzip", ".tgz": "application/gzip", ".tar": "application/x-tar",
	".pdf": "application/pdf", ".exe": "application/x-dosexec", ".dll": "application/x-dosexec", ".scr": "application/x-dosexec",
	".com": "application/x-dosexec", ".doc": "application/x-ole-storage", ".xls": "application/x-ole-storage",
	".ppt": "application/x-ole-storage", ".msi": "application/x-ole-storage",
	".docx": "application/zip", ".xlsx": "application/zip", ".pptx": "application/zip", ".docm": "application/zip",
	".xlsm": "application/zip", ".jar": "application/zip", ".apk": "application/zip",
	".rar": "application/x-rar", ".7z": "application/x-7z-compressed", ".bz2": "application/x-bzip2", ".xz": "application/x-xz",
	".cab": "application/vnd.ms-cab-compressed", ".rtf": "application/rtf",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".txt": "text/plain", ".csv": "text/plain", ".htm": "text/html", ".html": "text/html", ".xml": "text/xml",
	".sh": "text/x-script", ".py": "text/x-script", ".pl": "text/x-script",
	".lnk": "application/x-ms-shortcut", ".chm": "application/vnd.ms-htmlhelp",
}
