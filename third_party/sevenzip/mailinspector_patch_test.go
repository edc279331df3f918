package sevenzip

// Mail Inspector's tests of its patch (PATCHES.md): what a hostile header
// asks for is refused before it is allocated.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/bodgit/sevenzip/internal/aes7z"
	"github.com/bodgit/sevenzip/internal/lzma"
	"github.com/bodgit/sevenzip/internal/lzma2"
	"github.com/bodgit/sevenzip/internal/ppmd"
	"github.com/bodgit/sevenzip/internal/util"
)

// uvarint writes v in 7-Zip's variable-length form (a first byte whose
// leading one bits count the bytes that follow).
func uvarint(v uint64) []byte {
	return []byte{0xff, byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24), byte(v >> 32), byte(v >> 40), byte(v >> 48), byte(v >> 56)}
}

func TestCountsFromAHeaderAreBounded(t *testing.T) {
	if err := checkUint64(util.MaxCount, true); err != nil {
		t.Fatalf("MaxCount refused: %v", err)
	}
	if err := checkUint64(util.MaxCount+1, true); !errors.Is(err, errUint64TooLarge) {
		t.Fatalf("MaxCount+1: %v", err)
	}
	// A coder with 4 GiB of properties: refused before the allocation.
	hdr := append([]byte{0x23, 0x03, 0x01, 0x01}, uvarint(1<<32-1)...)
	start := time.Now()
	if _, err := readCoder(bytes.NewReader(hdr)); !errors.Is(err, errUint64TooLarge) {
		t.Fatalf("4 GiB of properties: %v", err)
	}
	hdr = append([]byte{0x23, 0x03, 0x01, 0x01}, uvarint(util.MaxProperties+1)...)
	if _, err := readCoder(bytes.NewReader(hdr)); !errors.Is(err, errUint64TooLarge) {
		t.Fatalf("MaxProperties+1: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %s: allocated first?", took)
	}
}

func TestDecoderMemoryIsBounded(t *testing.T) {
	in := []io.ReadCloser{io.NopCloser(bytes.NewReader(make([]byte, 64)))}
	props := make([]byte, 5)
	props[0] = 0x5d
	binary.LittleEndian.PutUint32(props[1:], util.MaxDictionary+1)
	if _, err := lzma.NewReader(props, 10, in); err == nil {
		t.Error("LZMA with a dictionary over the limit")
	}
	if _, err := lzma2.NewReader([]byte{40}, 10, in); err == nil { // 3 GiB
		t.Error("LZMA2 with a dictionary over the limit")
	}
	props[0] = 6
	if _, err := ppmd.NewReader(props, 10, in); err == nil {
		t.Error("PPMd with a model over the limit")
	}
}

func TestKeyRoundsAreBounded(t *testing.T) {
	// 7-Zip writes 19: derived (internal/aes7z's test holds the key to
	// the published loop's).
	props := append([]byte{0xc0 | 19, 0x00}, 's', 'i')
	rc, err := aes7z.NewReader(props, 0, []io.ReadCloser{io.NopCloser(bytes.NewReader(nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.(CryptoReadCloser).Password("pw"); err != nil {
		t.Fatalf("2^19: %v", err)
	}
	props[0] = 0xc0 | 21
	rc, _ = aes7z.NewReader(props, 0, []io.ReadCloser{io.NopCloser(bytes.NewReader(nil))})
	if err := rc.(CryptoReadCloser).Password("pw"); err == nil {
		t.Fatal("2^21 rounds derived")
	}
}
