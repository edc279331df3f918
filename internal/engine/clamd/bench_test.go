package clamd

import (
	"bytes"
	"context"
	"testing"

	"mailinspector/internal/testutil"
)

// BenchmarkScan is one INSTREAM of content of the given size and kind
// against a private clamd with the project's signatures.
func BenchmarkScan(b *testing.B) {
	cd := testutil.StartClamd(b)
	c, err := New(cd.Spec())
	if err != nil {
		b.Fatal(err)
	}
	kinds := map[string][]byte{
		"text-100KB": bytes.Repeat([]byte("plain words of a message body\r\n"), 3300),
		"html-100KB": bytes.Repeat([]byte("<p>html <a href=\"http://x.example/\">link</a></p>\r\n"), 2000),
		"text-1KB":   bytes.Repeat([]byte("short\r\n"), 150),
	}
	for name, data := range kinds {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				if _, err := c.Scan(context.Background(), bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
