package timeofclick

import (
	"html/template"
	"net/http"

	"github.com/microcosm-cc/bluemonday" // the administrator's page texts, sanitised: <a href>, <b>, <i>
)

// page is a click's answer shown to the reader.
type page struct {
	Title, Text, URL, Risk string
	Continue               template.URL
	// Custom is the administrator's text for the risk (click.page.*),
	// sanitised; it replaces Text.
	Custom template.HTML
}

// pagePolicy keeps links (http, https, mailto), bold and italic of an
// administrator's page text, and nothing else: no script, no style, no
// attribute but href.
var pagePolicy = func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("b", "i")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.RequireNoReferrerOnLinks(true)
	return p
}()

// custom is the administrator's sanitised text for a risk, if any.
func (s *Service) custom(risk string) template.HTML {
	if t := s.Pages[risk]; t != "" {
		return template.HTML(pagePolicy.Sanitize(t))
	}
	return ""
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}} — Mail Inspector</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}
h1{font-size:1.4em}.url{word-break:break-all;background:#f4f4f4;padding:.5em;border-radius:4px;font-family:monospace}
.go{display:inline-block;margin-top:1em;color:#a00}</style></head><body>
<h1 id="title">{{.Title}}</h1>
{{if .Custom}}<p id="text">{{.Custom}}</p>{{else}}<p id="text">{{.Text}}</p>{{end}}
{{if .URL}}<p class="url" id="url">{{.URL}}</p>{{end}}
{{if .Continue}}<p><a class="go" id="continue" href="{{.Continue}}" rel="noreferrer noopener">I understand the risk — open the link</a></p>{{end}}
<p><small>Mail Inspector time-of-click protection</small></p>
</body></html>
`))

func (s *Service) page(w http.ResponseWriter, status int, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	pageTmpl.Execute(w, p)
}
