package mlfeatures

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestExtract(t *testing.T) {
	pdf := []byte("%PDF-1.7\n1 0 obj << /OpenAction 2 0 R >> endobj 2 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj %%EOF")
	v := Extract(pdf, int64(len(pdf)), "application/pdf", "application/pdf")
	if v["pdf_openaction"] != 1 || v["pdf_javascript"] != 2 || v["pe"] != 0 {
		t.Fatalf("pdf: %v", v)
	}
	script := []byte("var s = String.fromCharCode(72,105); eval(s); " + strings.Repeat("QUJD", 60))
	v = Extract(script, int64(len(script)), "text/x-script", "application/javascript")
	if v["script"] != 1 || v["script_obfuscation"] != 3 {
		t.Fatalf("script: %v", v)
	}
	v = Extract([]byte("PK\x03\x04 word/vbaProject.bin"), 30, "application/zip", "application/vnd.ms-word")
	if v["office_macros"] != 1 || v["type_mismatch"] != 1 {
		t.Fatalf("macro document: %v", v)
	}
	if len(v) != len(Names) {
		t.Fatalf("%d features, want every one of %d", len(v), len(Names))
	}
}

func TestEntropy(t *testing.T) {
	if e := Entropy(bytes.Repeat([]byte("a"), 100)); e != 0 {
		t.Fatalf("one symbol: %f", e)
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if e := Entropy(all); math.Abs(e-8) > 1e-9 {
		t.Fatalf("every byte once: %f", e)
	}
}

func TestTrainSeparatesAndIsDeterministic(t *testing.T) {
	var samples []Sample
	for i := 0; i < 20; i++ {
		samples = append(samples, Sample{Label: 1, Features: Vector{"office_macros": 1, "script_obfuscation": float64(2 + i%4)}},
			Sample{Label: 0, Features: Vector{"entropy": 4 + float64(i%3)/10}})
	}
	a, b := Train(samples, "t", "test"), Train(samples, "t", "test")
	if a.Bias != b.Bias || a.Weights["office_macros"] != b.Weights["office_macros"] {
		t.Fatal("training is not deterministic")
	}
	if a.Score(Vector{"office_macros": 1, "script_obfuscation": 3}) < 0.9 || a.Score(Vector{"entropy": 4.1}) > 0.1 {
		t.Fatal("the model does not separate its own training set")
	}
}

func FuzzExtract(f *testing.F) {
	f.Add([]byte("MZ\x90\x00"), "application/x-dosexec")
	f.Add([]byte("%PDF-1.4 /JS"), "application/pdf")
	f.Fuzz(func(t *testing.T, b []byte, typ string) {
		v := Extract(b, int64(len(b)), typ, "")
		for k, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("%s = %v", k, x)
			}
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	content := bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit. QUJDREVG\r\n"), 1<<14)
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		Extract(content, int64(len(content)), "text/plain", "application/javascript")
	}
}

// The anchored search counts what a plain search for each marker counts.
func TestMarkersMatchPlainCount(t *testing.T) {
	for _, text := range []string{
		"eval(eval (x) chr(65)+chr(66) unescape(%41) -enc abc -encodedcommand x fromcharcode frombase64string wscript.shell activexobject",
		"(((((-.-.-)))))", "evaleval(", "", "wscript.shellwscript.shell",
	} {
		want := 0
		for _, m := range obfuscationMarkers {
			want += bytes.Count([]byte(text), m)
		}
		if got := obfuscationCount([]byte(text), 0); got != min(want, maxMarkers) {
			t.Errorf("%q: %d, want %d", text, got, want)
		}
	}
}
