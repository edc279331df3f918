package clamd

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/testutil"
)

var eicar = testutil.EICAR

func TestScanWithTheProjectSignatures(t *testing.T) {
	cd := testutil.StartClamd(t)
	c, err := New(cd.Spec())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	w, _ := zw.Create("inner/eicar.com")
	w.Write([]byte(eicar))
	zw.Close()
	big := bytes.Repeat([]byte("clean data "), 300000) // 3.3 MB: many chunks
	cases := []struct {
		name, content, want string
	}{
		{"clean", "hello, nothing to see", ""},
		{"big clean", string(big), ""},
		{"EICAR", eicar, "MailInspector.Test.EICAR"},
		{"by hash only", "mailinspector hash-only test sample", "MailInspector.Test.HashOnly.SHA256"},
		{"EICAR in a text", "some text before " + eicar + " and after", "MailInspector.Test.EICAR.Body"},
		{"EICAR in a zip", zipped.String(), "MailInspector.Test.EICAR"},
		// The framing: a signature cut by a chunk boundary, and a stream of
		// exactly two chunks (the terminator goes alone).
		{"EICAR across chunks", strings.Repeat("x", chunkSize-20) + " " + eicar + " tail", "MailInspector.Test.EICAR.Body"},
		{"two whole chunks", strings.Repeat("y", 2*chunkSize), ""},
		{"marker", "xx MAILINSPECTOR-TEST-MALWARE-MARKER yy", "MailInspector.Test.Marker"},
		{"YARA rule", "payload MAILINSPECTOR-YARA-TEST-7f3c payload", "YARA.MailInspector_Test_YARA"},
	}
	for _, tc := range cases {
		res, err := c.Scan(ctx, strings.NewReader(tc.content))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.want == "" && res.Infected || tc.want != "" && (!res.Infected || !strings.HasPrefix(res.Signature, tc.want)) {
			t.Errorf("%s: %+v, want %q", tc.name, res, tc.want)
		}
	}
}

func TestDeadClampdAndSilentClamdFailWithinTheDeadline(t *testing.T) {
	// Nothing listens: refused at once.
	c, _ := New("unix:/nonexistent/clamd.sock")
	if _, err := c.Scan(context.Background(), strings.NewReader("x")); err == nil {
		t.Fatal("scan against no clamd succeeded")
	}
	// Accepts and never answers: the deadline ends the call.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	c, _ = New(ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Scan(ctx, strings.NewReader("x"))
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("silent clamd: %v after %s", err, time.Since(start))
	}
	// Answers garbage.
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln2.Close()
	go func() {
		conn, err := ln2.Accept()
		if err == nil {
			conn.Write([]byte("what?\x00"))
			conn.Close()
		}
	}()
	c, _ = New(ln2.Addr().String())
	if _, err := c.Scan(context.Background(), strings.NewReader("x")); err == nil || errors.Is(err, ErrSizeLimit) {
		t.Fatalf("garbage reply: %v", err)
	}
}

func TestParseReply(t *testing.T) {
	for in, want := range map[string]Result{
		"stream: OK":                         {},
		"stream: Eicar-Test-Signature FOUND": {Infected: true, Signature: "Eicar-Test-Signature"},
		"stream: YARA.x.UNOFFICIAL FOUND":    {Infected: true, Signature: "YARA.x.UNOFFICIAL"},
	} {
		got, err := parseReply(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	if _, err := parseReply("INSTREAM size limit exceeded. ERROR"); !errors.Is(err, ErrSizeLimit) {
		t.Errorf("size limit: %v", err)
	}
}

func FuzzParseReply(f *testing.F) {
	f.Add("stream: OK")
	f.Add("stream: x FOUND")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseReply(s)
		if err == nil && r.Infected && r.Signature == "" && !strings.HasSuffix(s, " FOUND") {
			t.Fatalf("%q: infected without a signature", s)
		}
	})
}
