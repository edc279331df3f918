package message

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// maxHints bounds the password candidates taken from one message.
const maxHints = 20

// passwordCue finds "password: X", "pw = X", "Passwort X", "mot de passe :
// X", "contraseña: X", "密码：X" and the like; X is the candidate.
var passwordCue = regexp.MustCompile(`(?i)(?:password|passwort|passwd|passcode|pass|pwd|pw|kennwort|wachtwoord|mot de passe|contrase(?:ñ|n)a|senha|parola|hasło|密码|パスワード)(?:\s+(?:is|ist|est|es|for\s+the\s+\S+))?\s*[:：=]?\s*["'“„«]?([^\s"'”»<>]{3,64})`)

// appendHints adds the password candidates a text offers.
func appendHints(hints []string, body []byte, isHTML bool) []string {
	text := string(body)
	if isHTML {
		text = htmlText(body)
	}
	for _, m := range passwordCue.FindAllStringSubmatch(text, maxHints) {
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
