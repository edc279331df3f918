package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mailinspector/internal/testutil"
)

func zipOf(t testing.TB, files map[string][]byte) []byte { return testutil.Zip(t, files) }

func tgzOf(t testing.TB, files map[string][]byte) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, content := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
		tw.Write(content)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func collect(t *testing.T, name, typ string, data []byte, lim Limits, pw []string) (*Result, map[string][]byte) {
	t.Helper()
	got := map[string][]byte{}
	res, err := Walk(name, typ, data, lim, List(pw...), func(m *Member, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[m.Path] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res, got
}

func TestNestedArchives(t *testing.T) {
	tgz := tgzOf(t, map[string][]byte{"dir/deep.txt": []byte("deep text"), "../../etc/evil": []byte("x")})
	outer := zipOf(t, map[string][]byte{"a.txt": []byte("alpha"), "inner/b.tgz": tgz})
	res, got := collect(t, "mail.zip", "application/zip", outer, DefaultLimits, nil)
	if len(res.Problems) != 0 {
		t.Fatalf("problems %+v", res.Problems)
	}
	for p, want := range map[string]string{
		"mail.zip/a.txt": "alpha",
		"mail.zip/inner/b.tgz/b.tar/dir/deep.txt": "deep text",
		"mail.zip/inner/b.tgz/b.tar/etc/evil":     "x",
	} {
		if string(got[p]) != want {
			t.Errorf("%s = %q, want %q (have %v)", p, got[p], want, keys(got))
		}
	}
	for _, m := range res.Members {
		if m.Path == "mail.zip/inner/b.tgz" && (m.TrueType != "application/gzip" || m.SHA256 != sum(tgz)) {
			t.Errorf("nested archive member %+v", m)
		}
	}
}

func keys(m map[string][]byte) []string {
	var k []string
	for p := range m {
		k = append(k, p)
	}
	return k
}

func TestZipCryptoWithInfoZIP(t *testing.T) {
	zipBin := testutil.RequireTool(t, "zip")
	dir := t.TempDir()
	secret := []byte("the secret content\n")
	os.WriteFile(filepath.Join(dir, "doc.txt"), secret, 0o644)
	out := filepath.Join(dir, "enc.zip")
	cmd := exec.Command(zipBin, "-q", "-P", "s3cret!", out, "doc.txt")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zip -P: %v %s", err, b)
	}
	data, _ := os.ReadFile(out)
	res, got := collect(t, "enc.zip", "application/zip", data, DefaultLimits, []string{"guess", "s3cret!"})
	if string(got["enc.zip/doc.txt"]) != string(secret) || len(res.Problems) != 0 || res.Members[0].Password != "s3cret!" || !res.Members[0].Encrypted {
		t.Fatalf("decrypted %q, members %+v, problems %+v", got["enc.zip/doc.txt"], res.Members, res.Problems)
	}
	res, got = collect(t, "enc.zip", "application/zip", data, DefaultLimits, []string{"wrong", "also wrong"})
	if len(got) != 0 || len(res.Problems) != 1 || res.Problems[0].Reason != "encrypted" {
		t.Fatalf("wrong passwords: got %v, problems %+v", keys(got), res.Problems)
	}

	// The candidates are asked for once, and only by an archive that has
	// an encrypted member.
	asked := 0
	lazy := func() []string { asked++; return []string{"s3cret!"} }
	plain := testutil.Zip(t, map[string][]byte{"a.txt": []byte("open")})
	if _, err := Walk("plain.zip", "application/zip", plain, DefaultLimits, lazy, nil); err != nil || asked != 0 {
		t.Fatalf("plain zip: passwords asked %d times (%v)", asked, err)
	}
	twice := testutil.Zip(t, map[string][]byte{"one.zip": data, "two.zip": data})
	res, err := Walk("twice.zip", "application/zip", twice, DefaultLimits, lazy, nil)
	if err != nil || asked != 1 || len(res.Problems) != 0 || len(res.Members) != 4 {
		t.Fatalf("two encrypted zips: passwords asked %d times, members %d, problems %+v (%v)", asked, len(res.Members), res.Problems, err)
	}
}

func TestWinZipAESWith7z(t *testing.T) {
	sevenZ := testutil.RequireTool(t, "7z")
	dir := t.TempDir()
	secret := bytes.Repeat([]byte("aes protected line\n"), 500)
	os.WriteFile(filepath.Join(dir, "doc.txt"), secret, 0o644)
	out := filepath.Join(dir, "aes.zip")
	cmd := exec.Command(sevenZ, "a", "-tzip", "-mem=AES256", "-pPa55word", out, "doc.txt")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("7z: %v %s", err, b)
	}
	data, _ := os.ReadFile(out)
	res, got := collect(t, "aes.zip", "application/zip", data, DefaultLimits, []string{"nope", "Pa55word"})
	if !bytes.Equal(got["aes.zip/doc.txt"], secret) || len(res.Problems) != 0 {
		t.Fatalf("AES: %d bytes, problems %+v", len(got["aes.zip/doc.txt"]), res.Problems)
	}
	res, _ = collect(t, "aes.zip", "application/zip", data, DefaultLimits, []string{"nope"})
	if len(res.Problems) != 1 || res.Problems[0].Reason != "encrypted" {
		t.Fatalf("AES wrong password: %+v", res.Problems)
	}
}

func TestBombsEndAsProblems(t *testing.T) {
	zeros := make([]byte, 20<<20)
	bomb := zipOf(t, map[string][]byte{"zeros.bin": zeros})
	// Ratio: 20 MB of zeros deflate a thousandfold.
	res, _ := collect(t, "bomb.zip", "application/zip", bomb, DefaultLimits, nil)
	if len(res.Problems) == 0 || res.Problems[0].Reason != "ratio" {
		t.Fatalf("ratio bomb: %+v", res.Problems)
	}
	// Total size, with the ratio check out of the way.
	lim := DefaultLimits
	lim.MaxRatio, lim.MaxTotalBytes = 1<<30, 8<<20
	res, _ = collect(t, "bomb.zip", "application/zip", bomb, lim, nil)
	if len(res.Problems) == 0 || res.Problems[0].Reason != "size" {
		t.Fatalf("size bomb: %+v", res.Problems)
	}
	// Depth: zips nested ten deep.
	nest := []byte("core")
	for i := 0; i < 10; i++ {
		nest = zipOf(t, map[string][]byte{"n.zip": nest})
	}
	res, _ = collect(t, "nest.zip", "application/zip", nest, DefaultLimits, nil)
	if len(res.Problems) != 1 || res.Problems[0].Reason != "depth" {
		t.Fatalf("depth: %+v", res.Problems)
	}
	// Members.
	many := map[string][]byte{}
	for i := 0; i < 50; i++ {
		many[strings.Repeat("f", i+1)] = []byte("x")
	}
	lim = DefaultLimits
	lim.MaxMembers = 10
	res, _ = collect(t, "many.zip", "application/zip", zipOf(t, many), lim, nil)
	if len(res.Problems) != 1 || res.Problems[0].Reason != "members" || len(res.Members) != 10 {
		t.Fatalf("members: %d members, %+v", len(res.Members), res.Problems)
	}
}

func FuzzArchives(f *testing.F) {
	f.Add([]byte("PK\x03\x04"), 0)
	f.Add(zipOf(f, map[string][]byte{"a": []byte("b")}), 0)
	f.Add(tgzOf(f, map[string][]byte{"a": []byte("b")}), 1)
	f.Add(sevenZipOf(f, map[string][]byte{"a": []byte("b")}), 3)
	f.Add(sevenZipOf(f, map[string][]byte{"a": []byte("b")}, "-ppw", "-mhe=on"), 3)
	f.Add(rar4([]struct {
		name string
		data []byte
	}{{"a", []byte("b")}}, false), 4)
	types := []string{"application/zip", "application/gzip", "application/x-tar", "application/x-7z-compressed", "application/x-rar"}
	lim := Limits{MaxDepth: 3, MaxMembers: 20, MaxTotalBytes: 1 << 20, MaxRatio: 100, MaxInMemory: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte, kind int) {
		if kind < 0 {
			kind = -kind
		}
		res, err := Walk("f", types[kind%len(types)], data, lim, List("pw"), func(m *Member, r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if err != nil {
			t.Fatalf("walk failed without a visit error: %v", err)
		}
		var total int64
		for _, m := range res.Members {
			total += m.Size
			for _, part := range strings.Split(m.Path, "/") {
				if part == ".." || part == "." || part == "" {
					t.Fatalf("member path climbs out: %q", m.Path)
				}
			}
		}
		if len(res.Members) > lim.MaxMembers || total > lim.MaxTotalBytes+lim.MaxInMemory {
			t.Fatalf("limits not held: %d members, %d bytes", len(res.Members), total)
		}
	})
}

// A wrong password that passes ZipCrypto's one check byte (one in 256 do)
// must not stop the search: the next password is tried. The test finds
// such a password for the archive at hand, so it never depends on luck.
func TestZipCryptoCheckByteFalsePositive(t *testing.T) {
	zipBin := testutil.RequireTool(t, "zip")
	dir := t.TempDir()
	secret := []byte("the secret content\n")
	os.WriteFile(filepath.Join(dir, "doc.txt"), secret, 0o644)
	out := filepath.Join(dir, "enc.zip")
	cmd := exec.Command(zipBin, "-q", "-P", "s3cret!", out, "doc.txt")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zip -P: %v %s", err, b)
	}
	data, _ := os.ReadFile(out)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	f := zr.File[0]
	decoy := ""
	for i := 0; i < 100000 && decoy == ""; i++ {
		pw := fmt.Sprintf("decoy-%d", i)
		raw, _ := f.OpenRaw()
		if _, err := zipCryptoReader(raw, pw, f); err == nil {
			decoy = pw
		}
	}
	if decoy == "" {
		t.Fatal("no password passing the check byte found")
	}
	res, got := collect(t, "enc.zip", "application/zip", data, DefaultLimits, []string{decoy, "s3cret!"})
	if string(got["enc.zip/doc.txt"]) != string(secret) || res.Members[0].Password != "s3cret!" {
		t.Fatalf("with decoy %q first: got %q, members %+v, problems %+v", decoy, got["enc.zip/doc.txt"], res.Members, res.Problems)
	}
}
