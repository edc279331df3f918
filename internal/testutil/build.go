package testutil

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// EICAR is the EICAR anti-virus test file, put together at run time so the
// source holds no complete copy.
var EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

// Base64Lines encodes b as a MIME body: base64 in lines of 76 with CRLF
// (RFC 2045 6.8).
func Base64Lines(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	return out.String() + s + "\r\n"
}

// Zip builds a zip archive of the files (deflated, names sorted).
func Zip(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// SevenZip makes a .7z with the real 7z tool (p7zip); args are extra
// switches (-pPW for AES-256, -mhe=on to encrypt the names, -mx=0 to store).
func SevenZip(t testing.TB, files map[string][]byte, args ...string) []byte {
	t.Helper()
	bin := RequireTool(t, "7z")
	dir := t.TempDir()
	var names []string
	for name, b := range files {
		p := filepath.Join(dir, "in", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	out := filepath.Join(dir, "a.7z")
	cmd := exec.Command(bin, append(append([]string{"a", "-t7z", out}, args...), names...)...)
	cmd.Dir = filepath.Join(dir, "in")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("7z: %v %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
