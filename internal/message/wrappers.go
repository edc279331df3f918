package message

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// Links other vendors' protections wrapped, in the formats they publish:
// the link inside is what the reader reaches, so it is judged too.
//
//   - Microsoft Defender Safe Links: https://*.safelinks.protection.outlook.com/?url=URL&data=…
//   - Proofpoint URL Defense v1: https://urldefense.proofpoint.com/v1/url?u=URL&k=…
//   - v2: …/v2/url?u=ENCODED&d=… (ENCODED: "-" for "%", "_" for "/")
//   - v3: https://urldefense.com/v3/__URL__;BYTES!!… (each "*" in URL is
//     the next character of base64url BYTES; "**X" the next 2 to 65,
//     X's place in A–Z a–z 0–9 - _ plus two)
//   - Mimecast URL Protect: https://protect-*.mimecast.com/s/…?domain=DOMAIN
//     (the link itself stays with Mimecast: its domain is judged)
//   - Trend Micro time-of-click: https://*ctp.trendmicro.com/wis/clicktime/v*/clickthrough?url=URL

// maxWrapped bounds how many wrappers inside each other are opened.
const maxWrapped = 4

// InnerURLs are the links inside a wrapped link, outermost first, each
// normalised; none for a link no known vendor wrapped.
func InnerURLs(link string) []string {
	var out []string
	for i := 0; i < maxWrapped; i++ {
		inner, ok := innerURL(link)
		if !ok {
			break
		}
		n, ok := Normalize(inner, nil)
		if !ok {
			break
		}
		out = append(out, n)
		link = n
	}
	return out
}

func innerURL(link string) (string, bool) {
	if !mayBeWrapped(link) {
		return "", false // most links: no parse
	}
	u, err := url.Parse(link)
	if err != nil || u.Host == "" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	q := u.Query()
	switch {
	case strings.HasSuffix(host, ".safelinks.protection.outlook.com"):
		return nonEmpty(q.Get("url"))
	case strings.HasSuffix(host, "ctp.trendmicro.com") && strings.Contains(u.Path, "/clickthrough"):
		return nonEmpty(q.Get("url"))
	case strings.HasPrefix(host, "protect") && strings.HasSuffix(host, ".mimecast.com") && strings.HasPrefix(u.Path, "/s/"):
		if d := q.Get("domain"); d != "" && !strings.ContainsAny(d, "/?#@ ") {
			return "http://" + d + "/", true
		}
	case host == "urldefense.proofpoint.com" || host == "urldefense.com":
		return proofpoint(u, link)
	}
	return "", false
}

func nonEmpty(s string) (string, bool) { return s, s != "" }

// proofpoint reads URL Defense's three versions.
func proofpoint(u *url.URL, link string) (string, bool) {
	switch {
	case strings.HasPrefix(u.Path, "/v1/"):
		return nonEmpty(u.Query().Get("u"))
	case strings.HasPrefix(u.Path, "/v2/"):
		enc := u.Query().Get("u")
		if enc == "" {
			return "", false
		}
		s, err := url.PathUnescape(strings.NewReplacer("-", "%", "_", "/").Replace(enc))
		return s, err == nil
	case strings.HasPrefix(u.Path, "/v3/"):
		// From the raw link: the URL inside keeps its own "?" and "&".
		i := strings.Index(link, "/v3/__")
		if i < 0 {
			return "", false
		}
		rest := link[i+len("/v3/__"):]
		end := strings.Index(rest, "__;")
		if end < 0 {
			return "", false
		}
		inner, tail := rest[:end], rest[end+3:]
		enc, _, _ := strings.Cut(tail, "!")
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
		if err != nil {
			return "", false
		}
		chars := []rune(string(b))
		var out strings.Builder
		next := 0
		for i := 0; i < len(inner); i++ {
			if inner[i] != '*' {
				out.WriteByte(inner[i])
				continue
			}
			n := 1
			if i+2 < len(inner) && inner[i+1] == '*' {
				n = strings.IndexByte(v3Runs, inner[i+2]) + 2
				if n < 2 {
					return "", false
				}
				i += 2
			}
			if next+n > len(chars) {
				return "", false
			}
			out.WriteString(string(chars[next : next+n]))
			next += n
		}
		return out.String(), true
	}
	return "", false
}

// v3Runs are the letters of a v3 run's length (A: 2, B: 3, …).
const v3Runs = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// mayBeWrapped: the link names a vendor's wrapping host (any case), so it
// is worth parsing.
func mayBeWrapped(link string) bool {
	lower := strings.ToLower(link)
	for _, h := range []string{"safelinks", "urldefense", "mimecast", "trendmicro"} {
		if strings.Contains(lower, h) {
			return true
		}
	}
	return false
}
