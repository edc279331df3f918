package delivery

import "testing"

// TestPathAddressQuotesWhatIsNoDotString: a local part that came quoted
// goes out quoted again: an injected ESMTP parameter stays inside it.
func TestPathAddressQuotesWhatIsNoDotString(t *testing.T) {
	for in, want := range map[string]string{
		"alice@example.com":           "alice@example.com",
		"first.last+tag@example.com":  "first.last+tag@example.com",
		"x> NOTIFY=NEVER@example.com": `"x> NOTIFY=NEVER"@example.com`,
		`a"b\c@example.com`:           `"a\"b\\c"@example.com`,
		"a b@example.com":             `"a b"@example.com`,
		".dot@example.com":            `".dot"@example.com`,
		"a..b@example.com":            `"a..b"@example.com`,
		"@":                           "@",
		"":                            "",
		"jörg@bücher.example":         "jörg@bücher.example",
		"\"already\"@example.com":     `"\"already\""@example.com`,
		"user@[192.0.2.1]":            "user@[192.0.2.1]",
		"x@y@example.com":             `"x@y"@example.com`,
	} {
		if got := PathAddress(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
