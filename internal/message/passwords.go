package message

import (
	"bytes"
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// maxHints bounds the password candidates taken from one message.
const maxHints = 20

// passwordCue finds "password: X", "pw = X", "Passwort X", "mot de passe :
// X", "contraseña: X", "密码：X" and the like; X is the candidate.
var passwordCue = regexp.MustCompile(`(?i)(?:password|passwort|passwd|passcode|pass|pwd|pw|kennwort|wachtwoord|mot de passe|contrase(?:ñ|n)a|senha|parola|hasło|密码|パスワード)(?:\s+(?:is|ist|est|es|for\s+the\s+\S+))?\s*[:：=]?\s*["'“„«]?([^\s"'”»<>]{3,64})`)

// cues start the phrases passwordCue reads; the expression runs only on a
// short window after each, found with bytes.Index (a case-insensitive
// alternation over whole texts was the slowest step of the walk).
var cues = []string{"pass", "pw", "kennwort", "wachtwoord", "mot de passe", "contrase", "senha", "parola", "hasło", "密码", "パスワード"}

// appendHints adds the password candidates a text offers.
func appendHints(hints []string, body []byte, isHTML bool) []string {
	if isHTML {
		body = []byte(htmlText(body))
	}
	lower := ASCIILower(body)
	var windows []string
	for _, c := range cues {
		for off := 0; len(windows) < 4*maxHints; {
			i := bytes.Index(lower[off:], []byte(c))
			if i < 0 {
				break
			}
			i += off
			off = i + len(c)
			windows = append(windows, string(body[i:min(len(body), i+160)]))
		}
	}
	for _, w := range windows {
		m := passwordCue.FindStringSubmatch(w)
		if m == nil {
			continue
		}
		cand := strings.TrimRight(m[1], ".,;!)")
		if len(cand) < 3 || len(hints) >= maxHints || contains(hints, cand) {
			continue
		}
		hints = append(hints, cand)
	}
	return hints
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// htmlText is the visible text of an HTML body, words separated.
func htmlText(body []byte) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(string(body)))
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.StartTagToken:
			if n, _ := z.TagName(); string(n) == "script" || string(n) == "style" {
				skip++
			}
			b.WriteByte(' ')
		case html.EndTagToken:
			if n, _ := z.TagName(); (string(n) == "script" || string(n) == "style") && skip > 0 {
				skip--
			}
			b.WriteByte(' ')
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		}
	}
}
