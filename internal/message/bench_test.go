package message

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkWalkBenchCorpus walks the shared bench corpus (when it has been
// generated under /var/tmp/mailinspector-bench/corpus by the harness).
func BenchmarkWalkBenchCorpus(b *testing.B) {
	files, _ := filepath.Glob("/var/tmp/mailinspector-bench/corpus/msg-0000*.eml")
	if len(files) == 0 {
		b.Skip("no bench corpus (run make bench-sut once)")
	}
	var msgs [][]byte
	var total int64
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, data)
		total += int64(len(data))
	}
	b.SetBytes(total / int64(len(msgs)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Walk(bytes.NewReader(msgs[i%len(msgs)]), DefaultLimits, nil); err != nil {
			b.Fatal(err)
		}
	}
}
