package archive

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	"mailinspector/internal/testutil"
)

// TestPeekInMemorySameAsStream: content already in memory (Bytes) is peeked
// without a copy and gives what a stream of the same bytes gives.
func TestPeekInMemorySameAsStream(t *testing.T) {
	zip := testutil.Zip(t, map[string][]byte{"a.txt": bytes.Repeat([]byte("a"), 3000)})
	cases := map[string]struct {
		data []byte
		max  int64
	}{
		"zip":         {zip, 1 << 20},
		"zip too big": {zip, int64(len(zip)) - 1},
		"text":        {[]byte("just words"), 1 << 20},
		"empty":       {nil, 1 << 20},
	}
	for name, c := range cases {
		s, err := Peek(iotest.HalfReader(bytes.NewReader(c.data)), c.max)
		if err != nil {
			t.Fatal(err)
		}
		buf := bytes.NewBuffer(c.data)
		m, err := Peek(buf, c.max)
		if err != nil {
			t.Fatal(err)
		}
		if s.TrueType != m.TrueType || s.TooBig != m.TooBig || !bytes.Equal(s.Data, m.Data) {
			t.Errorf("%s: stream %q %v %d bytes, in memory %q %v %d bytes", name, s.TrueType, s.TooBig, len(s.Data), m.TrueType, m.TooBig, len(m.Data))
		}
		if len(c.data) > 0 && len(m.Data) > 0 && &m.Data[0] != &c.data[0] {
			t.Errorf("%s: in-memory content was copied", name)
		}
		for _, p := range []Peeked{s, m} {
			all, err := io.ReadAll(p.Stream)
			if err != nil || !bytes.Equal(all, c.data) {
				t.Errorf("%s: stream gives %d bytes (%v), want %d", name, len(all), err, len(c.data))
			}
		}
	}
}
