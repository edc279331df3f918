package agent

import "testing"

func TestSniff(t *testing.T) {
	for body, want := range map[string]struct {
		kind  string
		login bool
	}{
		"\x7fELF\x02\x01":                    {"program", false},
		"MZ\x90\x00":                         {"program", false},
		"#!/bin/sh\n":                        {"script", false},
		"PK\x03\x04rest":                     {"archive", false},
		"%PDF-1.7\n":                         {"document", false},
		"<html><input type=password name=p>": {"html", true},
		"<!doctype html><INPUT TYPE=\"Password\">": {"html", true},
		"<html><input type=text name=password>":    {"html", false},
		"just text":                                {"other", false},
		"":                                         {"empty", false},
	} {
		k, l := sniff([]byte(body))
		if k != want.kind || l != want.login {
			t.Errorf("sniff(%q) = %s %v, want %s %v", body, k, l, want.kind, want.login)
		}
	}
}
