package mlfeatures

import (
	"bytes"
	"math"
	"math/rand/v2"
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

// scanReference is scan written plainly: the fast one must agree with it.
func scanReference(content []byte) (float64, int) {
	var counts [256]int
	run, long := 0, 0
	for _, c := range content {
		counts[c]++
		if base64Chars[c] {
			if run++; run == 200 {
				long++
			}
		} else {
			run = 0
		}
	}
	return entropyOf(&counts, len(content)), long
}

func FuzzScan(f *testing.F) {
	f.Add([]byte("QUJD"), uint8(0))
	f.Add(bytes.Repeat([]byte("A"), 450), uint8(3))
	f.Fuzz(func(t *testing.T, content []byte, rep uint8) {
		// Repeating the input makes long base64 runs likely.
		content = bytes.Repeat(content, int(rep)%64+1)
		e, n := scan(content)
		we, wn := scanReference(content)
		if e != we || n != wn {
			t.Fatalf("scan %v %d, reference %v %d", e, n, we, wn)
		}
	})
}

func TestScanSameAsReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{0, 1, 3, 4, 5, 199, 200, 201, 1000, 65537} {
		content := make([]byte, size)
		for i := range content {
			content[i] = byte(rng.IntN(256))
			if rng.IntN(2) == 0 { // long stretches of the alphabet too
				content[i] = "ABCDabcd0189+/"[rng.IntN(14)]
			}
		}
		// Runs of lengths around longRun, cut by one other byte, so that
		// runs begin and end on and beside the probed positions.
		var cut []byte
		for _, n := range []int{199, 200, 201, 1, 399, 400, 0, 200, 599, 198} {
			cut = append(append(cut, bytes.Repeat([]byte("Q"), n)...), '\n')
		}
		for _, c := range [][]byte{content, bytes.Repeat([]byte("Zz"), size), cut, cut[1:], cut[:len(cut)-1], append([]byte("\n"), cut...),
			bytes.Repeat([]byte("Q"), 200), bytes.Repeat([]byte("Q"), 199), append(bytes.Repeat([]byte{0}, 7), bytes.Repeat([]byte("Q"), 200)...)} {
			e, n := scan(c)
			we, wn := scanReference(c)
			if e != we || n != wn {
				t.Fatalf("size %d: scan %v %d, reference %v %d", size, e, n, we, wn)
			}
		}
	}
}

func BenchmarkScanBinary(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	content := make([]byte, 1<<20)
	for i := range content {
		content[i] = byte(rng.IntN(256))
	}
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		scan(content)
	}
}
