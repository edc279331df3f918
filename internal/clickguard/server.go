package clickguard

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}} — Mail Inspector</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}
h1{font-size:1.4em}.url{word-break:break-all;background:#f4f4f4;padding:.5em;border-radius:4px}
.go{display:inline-block;margin-top:1em;color:#a00}</style></head><body>
<h1>{{.Title}}</h1>
<p>{{.Text}}</p>
{{if .URL}}<p class="url">{{.URL}}</p>{{end}}
{{if .Continue}}<p><a class="go" href="{{.Continue}}" rel="noreferrer noopener">I understand the risk — open the link</a></p>{{end}}
<p><small>Mail Inspector{{if .MessageID}} · message {{.MessageID}}{{end}}</small></p>
</body></html>
`))

type pageData struct {
	Title, Text, URL, MessageID string
	Continue                    template.URL
}

// Handler serves /c/TOKEN: the block or warn page of a rewritten link.
func (g *Guard) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /c/{token}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		l, err := g.Verify(r.PathValue("token"))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			page.Execute(w, pageData{Title: "Unknown link", Text: "This link was not written by this Mail Inspector, or it was changed on the way. It leads nowhere."})
			return
		}
		d := pageData{URL: l.URL, MessageID: l.MessageID}
		switch l.Mode {
		case Block:
			d.Title = "Link blocked"
			d.Text = "Your administrator's policy blocked this link from an email message. It is shown below as text only."
		case Warn:
			d.Title = "Careful: this link may be dangerous"
			d.Text = "This link from an email message was judged risky. Open it only if you trust it."
			// Only http(s) links go on, and only ones this appliance signed.
			if u, err := url.Parse(l.URL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && !strings.ContainsAny(l.URL, "\r\n") {
				d.Continue = template.URL(u.String())
			}
		}
		page.Execute(w, d)
	})
	return mux
}
