package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"sort"
	"strings"
	"time"

	"mailinspector/internal/sandbox/agent"
)

// Analysis report: what `show analysis SHA256` prints as JSON, and the
// self-contained HTML page stored beside it for the web console.
type AnalysisReport struct {
	SHA256   string        `json:"sha256"`
	Name     string        `json:"name"`
	Image    string        `json:"image"`
	Instance string        `json:"instance"`
	Finished time.Time     `json:"finished"`
	TookMS   int64         `json:"took_ms"`
	Verdict  Verdict       `json:"verdict"`
	Report   *agent.Report `json:"report"`
	// Screenshot describes the display at the end of the run; the
	// picture itself is in the HTML page only.
	Screenshot *ShotInfo `json:"screenshot,omitempty"`
	PNG        []byte    `json:"-"`
}

// ShotInfo is a screenshot in the JSON report.
type ShotInfo struct {
	Bytes  int    `json:"bytes,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Error  string `json:"error,omitempty"`
}

// SetScreenshot puts a run's screenshot into the report.
func (a *AnalysisReport) SetScreenshot(s *Screenshot) {
	if s == nil {
		return
	}
	if s.Error != "" {
		a.Screenshot, a.PNG = &ShotInfo{Error: s.Error}, nil
		return
	}
	sum := sha256.Sum256(s.PNG)
	a.Screenshot, a.PNG = &ShotInfo{Bytes: len(s.PNG), SHA256: hex.EncodeToString(sum[:])}, s.PNG
}

// Process is one node of the process tree.
type Process struct {
	PID      int        `json:"pid"`
	Path     string     `json:"path"`
	Argv     []string   `json:"argv"`
	Children []*Process `json:"children,omitempty"`
}

// Tree builds the process tree from the exec events: each process's last
// exec names it, its parent comes from the clone the tracer saw.
func Tree(r *agent.Report) []*Process {
	if r == nil {
		return nil
	}
	byPID := map[int]*Process{}
	parent := map[int]int{}
	var order []int
	for _, e := range r.Events {
		switch e.Type {
		case agent.EvFork:
			parent[e.PID] = e.PPID
		case agent.EvExec:
			p, ok := byPID[e.PID]
			if !ok {
				p = &Process{PID: e.PID}
				byPID[e.PID] = p
				order = append(order, e.PID)
			}
			p.Path, p.Argv = e.Path, e.Argv
			if e.PPID != 0 {
				parent[e.PID] = e.PPID
			}
		}
	}
	// A process hangs from its nearest ancestor that exec'd (a subshell
	// that only forked is skipped over); one with none is a root.
	var roots []*Process
	for _, pid := range order {
		p := byPID[pid]
		anc, seen := parent[pid], map[int]bool{pid: true}
		for anc != 0 && byPID[anc] == nil && !seen[anc] {
			seen[anc] = true
			anc = parent[anc]
		}
		if pp := byPID[anc]; pp != nil && pp != p {
			pp.Children = append(pp.Children, p)
		} else {
			roots = append(roots, p)
		}
	}
	return roots
}

// HTML renders the report as one self-contained page (no scripts, no
// outside resources: it is opened from the console as a file).
func HTML(a *AnalysisReport) ([]byte, error) {
	var files, net []agent.Event
	if a.Report != nil {
		for _, e := range a.Report.Events {
			switch e.Type {
			case agent.EvWrite, agent.EvDelete, agent.EvRename:
				files = append(files, e)
			case agent.EvConnect, agent.EvDNS, agent.EvHTTP, agent.EvSMTP, agent.EvProxy, agent.EvFetch:
				net = append(net, e)
			}
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].MS < files[j].MS })
	var shot template.URL
	if len(a.PNG) > 0 {
		// Only our own PNG encoding or a PNG checked to decode gets here.
		shot = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(a.PNG))
	}
	var b bytes.Buffer
	err := page.Execute(&b, map[string]any{"A": a, "Tree": Tree(a.Report), "Files": files, "Net": net, "Shot": shot})
	return b.Bytes(), err
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"join": strings.Join,
	"risk": func(v Verdict) string {
		if v.Failed {
			return "analysis failed"
		}
		return v.Risk + " risk"
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Virtual analyzer: {{.A.Name}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
.high{color:#b00}.medium{color:#c60}.low{color:#880}.none{color:#070}code{font-size:.9em;word-break:break-all}
ul.tree{list-style:none;padding-left:1.2em}
</style></head><body>
<h1>Virtual analyzer report: {{.A.Name}}</h1>
<table>
<tr><th>Verdict</th><td class="{{.A.Verdict.Risk}}"><strong>{{risk .A.Verdict}}</strong>{{if .A.Verdict.Reason}}: {{.A.Verdict.Reason}}{{end}} (score {{.A.Verdict.Score}})</td></tr>
<tr><th>SHA-256</th><td><code>{{.A.SHA256}}</code></td></tr>
<tr><th>Image, instance</th><td>{{.A.Image}}, {{.A.Instance}}</td></tr>
<tr><th>Finished</th><td>{{.A.Finished.Format "2006-01-02 15:04:05 MST"}} after {{.A.TookMS}} ms</td></tr>
{{with .A.Report}}<tr><th>Run</th><td>opened by {{.How}}, exit {{.ExitCode}}{{if .TimedOut}}, stopped at the time limit{{end}}, {{.MS}} ms, watched by {{.Tracer}}</td></tr>{{end}}
{{with .A.Report}}{{with .Fetch}}<tr><th>Link</th><td><code>{{.URL}}</code> led to <code>{{.Final}}</code>: {{.Summary}}{{if .SHA256}}; body sha256 <code>{{.SHA256}}</code>{{end}}</td></tr>{{end}}{{end}}
<tr><th>Screenshot</th><td>{{if .Shot}}<img src="{{.Shot}}" alt="the guest's display at the end of the run" style="max-width:100%;border:1px solid #ccc">{{else if .A.Screenshot}}none: {{.A.Screenshot.Error}}{{else}}none taken (sandbox.screenshot is off){{end}}</td></tr>
</table>
<h2>Matched rules</h2>
{{if .A.Verdict.Matches}}<table><tr><th>Rule</th><th>Severity</th><th>Weight</th><th>ATT&amp;CK</th><th>Evidence</th></tr>
{{range .A.Verdict.Matches}}<tr><td>{{.Name}} <small>({{.ID}})</small></td><td class="{{.Severity}}">{{.Severity}}</td><td>{{.Weight}}</td><td>{{join .Attack ", "}}</td><td>{{range .Evidence}}<code>{{.}}</code><br>{{end}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
<h2>Process tree</h2>
{{define "proc"}}<li><code>{{.PID}} {{.Path}}</code> {{if .Argv}}<code>{{join .Argv " "}}</code>{{end}}{{if .Children}}<ul class="tree">{{range .Children}}{{template "proc" .}}{{end}}</ul>{{end}}</li>{{end}}
{{if .Tree}}<ul class="tree">{{range .Tree}}{{template "proc" .}}{{end}}</ul>{{else}}<p>No process was seen.</p>{{end}}
<h2>Files</h2>
{{if .Files}}<table><tr><th>ms</th><th>What</th><th>Path</th></tr>
{{range .Files}}<tr><td>{{.MS}}</td><td>{{.Type}}</td><td><code>{{.Path}}</code>{{if .To}} → <code>{{.To}}</code>{{end}}</td></tr>
{{end}}</table>{{else}}<p>No file written or deleted.</p>{{end}}
{{with .A.Report}}{{if .Dropped}}<h3>Dropped files</h3><table><tr><th>Path</th><th>SHA-256</th><th>Bytes</th></tr>
{{range .Dropped}}<tr><td><code>{{.Path}}</code></td><td><code>{{.SHA256}}</code></td><td>{{.Size}}</td></tr>{{end}}</table>{{end}}{{end}}
<h2>Network</h2>
{{if .Net}}<table><tr><th>ms</th><th>What</th><th>PID</th><th>To</th><th>Detail</th></tr>
{{range .Net}}<tr><td>{{.MS}}</td><td>{{.Type}}</td><td>{{if .PID}}{{.PID}}{{end}}</td><td><code>{{.Addr}}</code></td><td>{{.Detail}}</td></tr>
{{end}}</table>{{else}}<p>No connection attempted.</p>{{end}}
{{with .A.Report}}{{if .Output}}<h2>Output</h2><pre>{{.Output}}</pre>{{end}}{{end}}
</body></html>
`))
