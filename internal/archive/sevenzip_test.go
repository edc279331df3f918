package archive

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"

	"mailinspector/internal/testutil"
)

func sevenZipOf(t testing.TB, files map[string][]byte, args ...string) []byte {
	return testutil.SevenZip(t, files, args...)
}

// Test7zWith7z: plain, solid, nested in a zip, encrypted (AES-256) with the
// file names visible or hidden (-mhe=on): opened with the password that
// opens it, the wrong ones tried first; without one, an encrypted problem.
func Test7zWith7z(t *testing.T) {
	files := map[string][]byte{"eicar.com": []byte(testutil.EICAR), "docs/readme.txt": bytes.Repeat([]byte("text\n"), 1000)}
	for name, args := range map[string][]string{
		"plain":            nil,
		"encrypted":        {"-pTr1cky-42"},
		"encrypted names":  {"-pTr1cky-42", "-mhe=on"},
		"store, encrypted": {"-pTr1cky-42", "-mx=0"},
	} {
		t.Run(name, func(t *testing.T) {
			data := sevenZipOf(t, files, args...)
			res, got := collect(t, "a.7z", "application/x-7z-compressed", data, DefaultLimits, []string{"nope", "Tr1cky-42"})
			if len(res.Problems) != 0 || !bytes.Equal(got["a.7z/eicar.com"], files["eicar.com"]) || !bytes.Equal(got["a.7z/docs/readme.txt"], files["docs/readme.txt"]) {
				t.Fatalf("members %v problems %+v", keys(got), res.Problems)
			}
			wantPw := ""
			if args != nil {
				wantPw = "Tr1cky-42"
			}
			for _, m := range res.Members {
				if m.Password != wantPw || m.SHA256 != sum(got[m.Path]) {
					t.Errorf("member %+v", m)
				}
			}
			if args == nil {
				return
			}
			res, got = collect(t, "a.7z", "application/x-7z-compressed", data, DefaultLimits, []string{"nope"})
			if len(got) != 0 || len(res.Problems) != 1 || res.Problems[0].Reason != "encrypted" {
				t.Fatalf("wrong password: members %v problems %+v", keys(got), res.Problems)
			}
		})
	}
	// Nested: a 7z in a zip.
	inner := sevenZipOf(t, files)
	res, got := collect(t, "outer.zip", "application/zip", zipOf(t, map[string][]byte{"in.7z": inner}), DefaultLimits, nil)
	if len(res.Problems) != 0 || !bytes.Equal(got["outer.zip/in.7z/eicar.com"], files["eicar.com"]) {
		t.Fatalf("nested: %v %+v", keys(got), res.Problems)
	}
}

// Test7zBomb: 7z expanding past the limit is a size problem, bounded.
func Test7zBomb(t *testing.T) {
	data := sevenZipOf(t, map[string][]byte{"zeros": make([]byte, 40<<20)})
	lim := DefaultLimits
	lim.MaxTotalBytes = 8 << 20
	res, _ := collect(t, "bomb.7z", "application/x-7z-compressed", data, lim, nil)
	if len(res.Problems) == 0 || res.Problems[0].Reason != "size" {
		t.Fatalf("bomb: %+v", res.Problems)
	}
}

// rar4 builds a RAR 4 archive of stored (uncompressed) files, as the RAR
// technote describes the format; encrypted marks the files encrypted
// (their bytes then are not: no password opens them). No free tool writes
// RAR archives; rardecode reads these as it reads WinRAR's.
func rar4(files []struct {
	name string
	data []byte
}, encrypted bool) []byte {
	var b bytes.Buffer
	b.WriteString("Rar!\x1a\x07\x00")
	block := func(typ byte, flags uint16, body []byte) {
		h := make([]byte, 7, 7+len(body))
		h[2] = typ
		binary.LittleEndian.PutUint16(h[3:], flags)
		binary.LittleEndian.PutUint16(h[5:], uint16(7+len(body)))
		h = append(h, body...)
		binary.LittleEndian.PutUint16(h, uint16(crc32.ChecksumIEEE(h[2:])))
		b.Write(h)
	}
	block(0x73, 0, make([]byte, 6)) // archive header
	for _, f := range files {
		var fh bytes.Buffer
		le := func(v any) { binary.Write(&fh, binary.LittleEndian, v) }
		le(uint32(len(f.data)))        // PACK_SIZE
		le(uint32(len(f.data)))        // UNP_SIZE
		fh.WriteByte(3)                // HOST_OS: Unix
		le(crc32.ChecksumIEEE(f.data)) // FILE_CRC
		le(uint32(0x5b7a0000))         // FTIME (DOS)
		fh.WriteByte(29)               // UNP_VER
		fh.WriteByte(0x30)             // METHOD: store
		le(uint16(len(f.name)))        // NAME_SIZE
		le(uint32(0o100644 << 0))      // ATTR
		fh.WriteString(f.name)
		flags := uint16(0x8000) // LONG_BLOCK: data follows
		if encrypted {
			flags |= 0x04 | 0x400 // encrypted, with salt
			fh.Write([]byte("saltsalt"))
		}
		block(0x74, flags, fh.Bytes())
		b.Write(f.data)
	}
	block(0x7b, 0x4000, nil) // end of archive
	return b.Bytes()
}

// TestRAR: a RAR archive's files are walked, hashed and visited; an
// encrypted one that no password opens is an encrypted problem.
func TestRAR(t *testing.T) {
	files := []struct {
		name string
		data []byte
	}{{"eicar.com", []byte(testutil.EICAR)}, {"dir/inner.zip", zipOf(t, map[string][]byte{"x.txt": []byte("inside")})}}
	res, got := collect(t, "a.rar", "application/x-rar", rar4(files, false), DefaultLimits, nil)
	if len(res.Problems) != 0 || !bytes.Equal(got["a.rar/eicar.com"], files[0].data) || string(got["a.rar/dir/inner.zip/x.txt"]) != "inside" {
		t.Fatalf("members %v problems %+v", keys(got), res.Problems)
	}
	res, got = collect(t, "a.rar", "application/x-rar", rar4(files, true), DefaultLimits, []string{"nope", "also-nope"})
	if len(got) != 0 || len(res.Problems) != 1 || res.Problems[0].Reason != "encrypted" || !strings.Contains(res.Problems[0].Detail, "none of 2") {
		t.Fatalf("encrypted: members %v problems %+v", keys(got), res.Problems)
	}
	res, _ = collect(t, "a.rar", "application/x-rar", rar4(files, true), DefaultLimits, nil)
	if len(res.Problems) != 1 || res.Problems[0].Reason != "encrypted" {
		t.Fatalf("encrypted, no password: %+v", res.Problems)
	}
	// A truncated archive is corrupt, not a crash.
	data := rar4(files, false)
	res, _ = collect(t, "cut.rar", "application/x-rar", data[:len(data)/2], DefaultLimits, nil)
	if len(res.Problems) == 0 {
		t.Fatalf("truncated: no problem")
	}
}
