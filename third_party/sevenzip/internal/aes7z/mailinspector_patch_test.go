package aes7z

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// TestKeyIsThePublishedLoops: Mail Inspector's key derivation (the round
// counter put in place) gives the key of v1.6.5's (binary.Write).
func TestKeyIsThePublishedLoops(t *testing.T) {
	for _, c := range []struct {
		pw     string
		cycles int
		salt   []byte
	}{{"Tr1cky-42", 19, nil}, {"pässwörd", 10, []byte("saltsalt")}, {"", 3, []byte{1}}} {
		b := bytes.NewBuffer(append([]byte(nil), c.salt...))
		w := transform.NewWriter(b, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewEncoder())
		w.Write([]byte(c.pw))
		h := sha256.New()
		for i := range uint64(1 << c.cycles) {
			h.Write(b.Bytes())
			binary.Write(h, binary.LittleEndian, i)
		}
		key, err := calculateKey(c.pw, c.cycles, c.salt)
		if err != nil || !bytes.Equal(key, h.Sum(nil)) {
			t.Fatalf("%q 2^%d: %x %v, published loop %x", c.pw, c.cycles, key, err, h.Sum(nil))
		}
	}
}
