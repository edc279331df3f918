// Package mlfeatures is the shared half of predictive machine learning
// (service `ml`): the static features the appliance extracts from a file,
// and the logistic-regression model the hub scores them with and trains
// with `mailinspector hub ml-train`. Only features leave the appliance,
// never the file.
package mlfeatures

import (
	"bytes"
	"debug/pe"
	"math"
	"sort"
	"strings"

	"mailinspector/internal/message"
)

// Vector is a file's features by name.
type Vector map[string]float64

// Names lists every feature the extractor gives, in a fixed order.
var Names = []string{
	"size_log2", "entropy", "pe", "pe_sections", "pe_suspicious_imports", "pe_wx_section", "pe_max_section_entropy",
	"office_macros", "pdf_javascript", "pdf_openaction", "pdf_launch", "script", "script_obfuscation", "type_mismatch",
}

// suspiciousImports are PE imports typical of injection, download-and-run
// and persistence.
var suspiciousImports = map[string]bool{
	"virtualalloc": true, "virtualallocex": true, "writeprocessmemory": true, "createremotethread": true,
	"urldownloadtofilea": true, "urldownloadtofilew": true, "winexec": true, "shellexecutea": true, "shellexecutew": true,
	"setwindowshookexa": true, "setwindowshookexw": true, "regsetvalueexa": true, "regsetvalueexw": true,
	"isdebuggerpresent": true, "getasynckeystate": true, "internetopena": true, "internetopenw": true,
}

// obfuscationMarkers are what script droppers use to hide their payload
// (matched in lower case). A regexp did this first and cost 70% of the
// daemon's CPU under load; fixed strings and one linear scan do it in a
// fraction.
var obfuscationMarkers = [][]byte{[]byte("eval("), []byte("eval ("), []byte("fromcharcode"), []byte("chr("), []byte("unescape("),
	[]byte("-enc "), []byte("-encodedcommand"), []byte("frombase64string"), []byte("wscript.shell"), []byte("activexobject")}

// maxMarkers caps the obfuscation count.
const maxMarkers = 50

// base64Chars marks the bytes of the base64 alphabet.
var base64Chars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = true
	}
	return
}()

// scan is the pass over a file for its byte histogram (for the entropy)
// and its runs of longRun or more base64 characters. It was a quarter of
// the analysis with the hub answering. Four histograms take turns so that
// a run of one byte value does not wait on its own counter; the runs are
// found by countLongRuns without a second look at every byte.
func scan(content []byte) (entropy float64, longRuns int) {
	var h [4][256]uint32
	i := 0
	for ; i+4 <= len(content); i += 4 {
		b := content[i : i+4 : i+4]
		h[0][b[0]]++
		h[1][b[1]]++
		h[2][b[2]]++
		h[3][b[3]]++
	}
	for _, c := range content[i:] {
		h[0][c]++
	}
	var counts [256]int
	for c := range counts {
		counts[c] = int(h[0][c]) + int(h[1][c]) + int(h[2][c]) + int(h[3][c])
	}
	return entropyOf(&counts, len(content)), countLongRuns(content)
}

// longRun is how many base64 characters in a row count as an encoded blob.
const longRun = 200

// countLongRuns counts the maximal runs of at least longRun base64
// characters. Every such run covers one of the positions longRun-1,
// 2*longRun-1, …, so only those are probed; from a probe inside the
// alphabet the run is measured both ways, and the next probe is the first
// one past its end. Binary content is mostly probes that miss: about 1/200
// of the bytes looked at, where a byte-by-byte run counter was half of the
// scan's time.
func countLongRuns(b []byte) int {
	n := 0
	for p := longRun - 1; p < len(b); {
		if !base64Chars[b[p]] {
			p += longRun
			continue
		}
		s, e := p, p+1
		for s > 0 && base64Chars[b[s-1]] {
			s--
		}
		for e < len(b) && base64Chars[b[e]] {
			e++
		}
		if e-s >= longRun {
			n++
		}
		p += longRun * ((e-p)/longRun + 1)
	}
	return n
}

// textual says whether markers of script obfuscation mean anything in a
// file of this type: in compressed or binary content they would be chance.
func textual(trueType, declaredType string) bool {
	return strings.HasPrefix(trueType, "text/") || trueType == "application/rtf" || trueType == "unicode/utf8" ||
		isScriptName(declaredType)
}

// obfuscationCount counts the markers in the lower-case copy, plus the
// long base64 runs scan found. Each marker is found through its rarest
// byte ('(' in "eval(", '.' in "wscript.shell" …): searching by a first
// letter like 'e' stops at every other word of plain text.
func obfuscationCount(lower []byte, longRuns int) int {
	n := longRuns
	for _, a := range markerAnchors {
		for i := 0; ; {
			j := bytes.IndexByte(lower[i:], a.b)
			if j < 0 {
				break
			}
			pos := i + j
			for _, m := range a.markers {
				start := pos - m.at
				if start >= 0 && start+len(m.s) <= len(lower) && bytes.Equal(lower[start:start+len(m.s)], m.s) {
					n++
				}
			}
			i = pos + 1
		}
	}
	return min(n, maxMarkers)
}

type anchoredMarker struct {
	s  []byte
	at int // index of the anchor byte in s
}

type anchor struct {
	b       byte
	markers []anchoredMarker
}

// markerAnchors groups the markers by the byte they are searched by: the
// one of their bytes that is rarest in text (by a fixed ranking).
var markerAnchors = func() []anchor {
	const rarestFirst = "(.-xqzjkvbpygfwmucldrhsnioate "
	var out []anchor
	for _, m := range obfuscationMarkers {
		rank := func(c byte) int {
			if r := strings.IndexByte(rarestFirst, c); r >= 0 {
				return r
			}
			return len(rarestFirst)
		}
		best := 0
		for i, c := range m {
			if rank(c) < rank(m[best]) {
				best = i
			}
		}
		found := false
		for k := range out {
			if out[k].b == m[best] {
				out[k].markers = append(out[k].markers, anchoredMarker{m, best})
				found = true
			}
		}
		if !found {
			out = append(out, anchor{m[best], []anchoredMarker{{m, best}}})
		}
	}
	return out
}()

// Extract computes the features of a file. content is at most the bytes the
// caller read (a prefix of a large file is fine); trueType comes from magic
// bytes, declaredType from the name or Content-Type.
func Extract(content []byte, size int64, trueType, declaredType string) Vector {
	v := Vector{}
	for _, n := range Names {
		v[n] = 0
	}
	v["size_log2"] = math.Log2(float64(size + 1))
	entropy, longRuns := scan(content)
	v["entropy"] = entropy
	if declaredType != "" && trueType != "" && declaredType != trueType && trueType != "application/octet-stream" && trueType != "text/plain" {
		v["type_mismatch"] = 1
	}
	if f, err := pe.NewFile(bytes.NewReader(content)); err == nil {
		v["pe"] = 1
		v["pe_sections"] = float64(len(f.Sections))
		for _, s := range f.Sections {
			const write, exec = 0x80000000, 0x20000000
			if s.Characteristics&write != 0 && s.Characteristics&exec != 0 {
				v["pe_wx_section"] = 1
			}
			if data, err := s.Data(); err == nil {
				v["pe_max_section_entropy"] = math.Max(v["pe_max_section_entropy"], Entropy(data))
			}
		}
		if syms, err := f.ImportedSymbols(); err == nil {
			for _, s := range syms {
				name, _, _ := strings.Cut(s, ":")
				if suspiciousImports[strings.ToLower(name)] {
					v["pe_suspicious_imports"]++
				}
			}
		}
		f.Close()
	}
	var lower []byte
	if textual(trueType, declaredType) {
		lower = message.ASCIILower(content)
		v["script_obfuscation"] = float64(obfuscationCount(lower, longRuns))
	} else {
		v["script_obfuscation"] = float64(min(longRuns, maxMarkers))
	}
	if bytes.Contains(content, []byte("vbaProject.bin")) || bytes.Contains(content, []byte("_VBA_PROJECT")) ||
		lower != nil && bytes.Contains(lower, []byte("attribute vb_name")) {
		v["office_macros"] = 1
	}
	if bytes.HasPrefix(content, []byte("%PDF-")) {
		v["pdf_javascript"] = float64(bytes.Count(content, []byte("/JavaScript")) + bytes.Count(content, []byte("/JS")))
		v["pdf_openaction"] = float64(bytes.Count(content, []byte("/OpenAction")) + bytes.Count(content, []byte("/AA")))
		v["pdf_launch"] = float64(bytes.Count(content, []byte("/Launch")))
	}
	if trueType == "text/x-script" || isScriptName(declaredType) {
		v["script"] = 1
	}
	return v
}

func isScriptName(declared string) bool {
	for _, s := range []string{"javascript", "vbscript", "x-sh", "powershell", "hta", "x-bat", "x-python"} {
		if strings.Contains(declared, s) {
			return true
		}
	}
	return false
}

// Entropy is the Shannon entropy of b in bits per byte (0–8).
func Entropy(b []byte) float64 {
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	return entropyOf(&counts, len(b))
}

func entropyOf(counts *[256]int, total int) float64 {
	if total == 0 {
		return 0
	}
	h := 0.0
	n := float64(total)
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// Model is a logistic regression over the features: score =
// sigmoid(bias + Σ weight·scaled feature), each feature scaled by its
// training mean and standard deviation.
type Model struct {
	Version   string             `json:"version"`
	TrainedOn string             `json:"trained_on"` // what the model was trained on, said honestly
	Samples   int                `json:"samples"`
	Bias      float64            `json:"bias"`
	Weights   map[string]float64 `json:"weights"`
	Mean      map[string]float64 `json:"mean"`
	Std       map[string]float64 `json:"std"`
	Threshold float64            `json:"threshold"` // score at or above: malicious
}

// Score gives the probability-like score (0–1) of a vector.
func (m *Model) Score(v Vector) float64 {
	z := m.Bias
	for _, name := range Names { // a fixed order: the same sum every time
		if w, ok := m.Weights[name]; ok {
			z += w * m.scale(name, v[name])
		}
	}
	return 1 / (1 + math.Exp(-z))
}

func (m *Model) scale(name string, x float64) float64 {
	sd := m.Std[name]
	if sd == 0 {
		sd = 1
	}
	return (x - m.Mean[name]) / sd
}

// Sample is one labelled training row.
type Sample struct {
	Label    int    `json:"label"` // 1 malicious, 0 benign
	Note     string `json:"note,omitempty"`
	Features Vector `json:"features"`
}

// Train fits a model by batch gradient descent with L2 regularisation.
// Deterministic: the same samples give the same model.
func Train(samples []Sample, version, trainedOn string) *Model {
	m := &Model{Version: version, TrainedOn: trainedOn, Samples: len(samples), Weights: map[string]float64{},
		Mean: map[string]float64{}, Std: map[string]float64{}, Threshold: 0.5}
	names := append([]string(nil), Names...)
	sort.Strings(names)
	n := float64(len(samples))
	if n == 0 {
		return m
	}
	for _, f := range names {
		var sum, sq float64
		for _, s := range samples {
			sum += s.Features[f]
		}
		mean := sum / n
		for _, s := range samples {
			d := s.Features[f] - mean
			sq += d * d
		}
		m.Mean[f], m.Std[f] = mean, math.Sqrt(sq/n)
		m.Weights[f] = 0
	}
	const rate, lambda, epochs = 0.5, 0.01, 2000
	for e := 0; e < epochs; e++ {
		grad := map[string]float64{}
		gb := 0.0
		for _, s := range samples {
			d := m.Score(s.Features) - float64(s.Label)
			gb += d
			for _, f := range names {
				grad[f] += d * m.scale(f, s.Features[f])
			}
		}
		m.Bias -= rate * gb / n
		for _, f := range names {
			m.Weights[f] -= rate * (grad[f]/n + lambda*m.Weights[f])
		}
	}
	return m
}
