package message

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"mailinspector/internal/testutil"
)

// uuLines uuencodes data as lines of 45 bytes (without begin and end).
func uuLines(data []byte) string {
	var b strings.Builder
	enc := func(v byte) byte {
		if v == 0 {
			return '`'
		}
		return v + 32
	}
	for len(data) > 0 {
		n := min(45, len(data))
		chunk := append([]byte(nil), data[:n]...)
		for len(chunk)%3 != 0 {
			chunk = append(chunk, 0)
		}
		b.WriteByte(enc(byte(n)))
		for i := 0; i < len(chunk); i += 3 {
			v := uint32(chunk[i])<<16 | uint32(chunk[i+1])<<8 | uint32(chunk[i+2])
			for k := 18; k >= 0; k -= 6 {
				b.WriteByte(enc(byte(v >> k & 63)))
			}
		}
		b.WriteString("\r\n")
		data = data[n:]
	}
	return b.String()
}

// yencLines yEnc-encodes data (yEnc 1.3: bytes + 42, NUL, LF, CR and "="
// escaped with "=" and + 64), 128 bytes a line.
func yencLines(data []byte) string {
	var b strings.Builder
	col := 0
	for _, c := range data {
		e := c + 42
		switch e {
		case 0, '\n', '\r', '=':
			b.WriteByte('=')
			e += 64
			col++
		}
		b.WriteByte(e)
		if col++; col >= 128 {
			b.WriteString("\r\n")
			col = 0
		}
	}
	if col > 0 {
		b.WriteString("\r\n")
	}
	return b.String()
}

// TestUULinesAreWhatPythonWrites: the test encoder agrees with a real one
// (Python's binascii.b2a_uu, with ` for zero as uuencode writes it).
func TestUULinesAreWhatPythonWrites(t *testing.T) {
	py := testutil.RequireTool(t, "python3")
	data := []byte(testutil.EICAR + "\x00\x01\x02 and some more bytes to pass one line of forty-five")
	cmd := exec.Command(py, "-c", `import binascii,sys
d=sys.stdin.buffer.read()
sys.stdout.buffer.write(b"".join(binascii.b2a_uu(d[i:i+45], backtick=True).replace(b"\n", b"\r\n") for i in range(0, len(d), 45)))`)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := uuLines(data); got != string(out) {
		t.Fatalf("uuLines:\n%q\npython:\n%q", got, out)
	}
}

// TestFilesWrittenInTextAreAttachments: a uuencoded or yEnc file in a text
// body is walked as an attachment of its own (decoded, hashed, typed,
// visited), right after the text; the text's links are still found.
func TestFilesWrittenInTextAreAttachments(t *testing.T) {
	zip := testutil.Zip(t, map[string][]byte{"eicar.com": []byte(testutil.EICAR)})
	exe := []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00 = not a real program \r\n\x00")
	msg := "Subject: files\r\nContent-Type: text/plain\r\n\r\nSee http://text.example/ and the files:\r\n" +
		"begin 644 invoice.zip\r\n" + uuLines(zip) + "`\r\nend\r\n" +
		"and\r\n=ybegin line=128 size=" + strconv.Itoa(len(exe)) + " name=tool setup.exe\r\n" + yencLines(exe) + "=yend size=" + strconv.Itoa(len(exe)) + "\r\n" +
		"bye\r\n"
	visited := map[string][]byte{}
	res, err := Walk(strings.NewReader(msg), DefaultLimits, func(p *Part, r io.Reader) error {
		b, err := io.ReadAll(r)
		visited[p.Path] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Parts) != 3 || len(res.Blind) != 0 || len(res.Malformed) != 0 {
		t.Fatalf("parts %+v blind %q malformed %q", res.Parts, res.Blind, res.Malformed)
	}
	for i, want := range []struct {
		path, name, trueType string
		data                 []byte
	}{{"1.uu1", "invoice.zip", "application/zip", zip}, {"1.yenc2", "tool setup.exe", "application/x-dosexec", exe}} {
		p := res.Parts[i+1]
		sum := sha256.Sum256(want.data)
		if p.Path != want.path || p.Filename != want.name || !p.Attachment || p.TrueType != want.trueType ||
			p.SHA256 != hex.EncodeToString(sum[:]) || !bytes.Equal(visited[p.Path], want.data) {
			t.Errorf("file %d: %+v (visited %d bytes)", i, p, len(visited[p.Path]))
		}
	}
	if len(res.URLs) != 1 || res.URLs[0].URL != "http://text.example/" {
		t.Errorf("URLs %+v", res.URLs)
	}
}

// TestUUencodedPartIsDecoded: Content-Transfer-Encoding x-uuencode (as
// Python's email package and clients decode it).
func TestUUencodedPartIsDecoded(t *testing.T) {
	data := []byte(testutil.EICAR)
	msg := "Content-Type: application/octet-stream; name=e.com\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 e.com\r\n" +
		uuLines(data) + "`\r\nend\r\n"
	res, err := Walk(strings.NewReader(msg), DefaultLimits, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if len(res.Parts) != 1 || res.Parts[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("parts %+v", res.Parts)
	}
}
