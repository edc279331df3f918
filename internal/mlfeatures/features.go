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
	"regexp"
	"sort"
	"strings"
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

var obfuscation = regexp.MustCompile(`(?i)eval\s*\(|fromcharcode|\bchr\s*\(|unescape\s*\(|-enc(odedcommand)?\s|frombase64string|wscript\.shell|activexobject|[A-Za-z0-9+/]{200,}`)

// Extract computes the features of a file. content is at most the bytes the
// caller read (a prefix of a large file is fine); trueType comes from magic
// bytes, declaredType from the name or Content-Type.
func Extract(content []byte, size int64, trueType, declaredType string) Vector {
	v := Vector{}
	for _, n := range Names {
		v[n] = 0
	}
	v["size_log2"] = math.Log2(float64(size + 1))
	v["entropy"] = Entropy(content)
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
	lower := bytes.ToLower(content)
	if bytes.Contains(content, []byte("vbaProject.bin")) || bytes.Contains(content, []byte("_VBA_PROJECT")) || bytes.Contains(lower, []byte("attribute vb_name")) {
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
	v["script_obfuscation"] = float64(len(obfuscation.FindAllIndex(content, 50)))
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
	if len(b) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	h := 0.0
	n := float64(len(b))
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
	for name, w := range m.Weights {
		z += w * m.scale(name, v[name])
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
