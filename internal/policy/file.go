package policy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the policies file in the data directory. Without one, the
// default policy applies.
const FileName = "policies.conf"

// Policy is one entry of the ordered list: a scope and rules.
type Policy struct {
	Name       string
	Line       int
	Direction  string   // any, inbound, outbound
	Senders    []string // addresses, domains, .subdomains; empty: anyone
	Recipients []string // same forms; empty: anyone
	Rules      []Rule
	// Disabled (the line "disabled") keeps a policy in the file and out of
	// every decision.
	Disabled bool
}

// Rule maps a risk level or a threat type to actions.
type Rule struct {
	Match   string // a risk (high, medium, low, none, unrated), "unscannable" or "threat TYPE"
	Actions []Action
	Line    int
}

// Action is one thing to do; Args are addresses for change-recipient, bcc
// and notify.
type Action struct {
	Kind string
	Args []string
}

// Actions, as DDEI names them.
var actionArgs = map[string]bool{ // kind -> takes addresses
	"deliver": false, "tag": false, "strip": false, "quarantine": false, "delete": false, "block-links": false, "warn-links": false,
	"change-recipient": true, "bcc": true, "notify": true,
}

var risks = map[string]bool{"high": true, "medium": true, "low": true, "none": true, "unrated": true}

// ThreatTypes are the threat types a rule can name, most severe first.
var ThreatTypes = []string{"targeted malware", "malware", "malicious URL", "suspicious file", "suspicious URL", "phishing", "spam", "content violation"}

var threats = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range ThreatTypes {
		m[t] = true
	}
	return m
}()

// ErrorList is every problem in a policies file.
type ErrorList []string

func (e ErrorList) Error() string { return strings.Join(e, "\n") }

// Parse reads a policies file:
//
//	# comments and blank lines are ignored
//	policy "Executives"
//	  direction inbound                   # any (default), inbound, outbound
//	  recipients ceo@example.com, .board.example.com
//	  senders any                         # any (default) or a list
//	  high     quarantine notify soc@example.com
//	  threat phishing   delete notify soc@example.com
//	  unscannable quarantine
//	  medium   tag strip
//	policy "Everyone else"
//	  high quarantine
//	  medium tag
//	policy "Trial"
//	  disabled                            # kept, never applied
//	  high delete
//
// Every error is listed with its line.
func Parse(name string, data []byte) ([]Policy, error) {
	var out []Policy
	var errs ErrorList
	bad := func(n int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s", name, n, fmt.Sprintf(format, args...)))
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		if word == "policy" {
			title, err := strconv.Unquote(rest)
			if err != nil || title == "" {
				bad(n, `want policy "NAME"`)
				title = rest
			}
			for _, p := range out {
				if p.Name == title {
					bad(n, "a policy named %q comes earlier (line %d): names tell policies apart", title, p.Line)
				}
			}
			out = append(out, Policy{Name: title, Line: n, Direction: "any"})
			continue
		}
		if len(out) == 0 {
			bad(n, `%q before the first policy "NAME" line`, word)
			continue
		}
		p := &out[len(out)-1]
		switch {
		case word == "disabled":
			if rest != "" {
				bad(n, "disabled takes nothing after it")
			}
			p.Disabled = true
		case word == "direction":
			if rest != "any" && rest != "inbound" && rest != "outbound" {
				bad(n, "direction must be any, inbound or outbound")
			}
			p.Direction = rest
		case word == "senders" || word == "recipients":
			list, err := addresses(rest)
			if err != nil {
				bad(n, "%s: %v", word, err)
			}
			if word == "senders" {
				p.Senders = list
			} else {
				p.Recipients = list
			}
		case risks[word] || word == UnscannableRule:
			p.Rules = append(p.Rules, Rule{Match: word, Line: n, Actions: parseActions(rest, n, bad)})
		case word == "threat":
			th, acts := splitThreat(rest)
			if !threats[th] {
				bad(n, "unknown threat type %q (one of: malware, targeted malware, malicious URL, suspicious file, suspicious URL, phishing, spam, content violation)", th)
			}
			p.Rules = append(p.Rules, Rule{Match: "threat " + th, Line: n, Actions: parseActions(acts, n, bad)})
		default:
			bad(n, "unknown word %q", word)
		}
	}
	if len(errs) > 0 {
		return out, errs
	}
	return out, nil
}

// splitThreat separates a threat type (which may be two words) from the
// actions after it.
func splitThreat(s string) (threat, actions string) {
	for t := range threats {
		if strings.HasPrefix(s, t+" ") || s == t {
			return t, strings.TrimSpace(s[len(t):])
		}
	}
	w, rest, _ := strings.Cut(s, " ")
	return w, rest
}

func parseActions(s string, n int, bad func(int, string, ...any)) []Action {
	var out []Action
	words := strings.Fields(s)
	for i := 0; i < len(words); i++ {
		kind := words[i]
		takesArgs, ok := actionArgs[kind]
		if !ok {
			bad(n, "unknown action %q", kind)
			continue
		}
		a := Action{Kind: kind}
		if takesArgs {
			for i+1 < len(words) {
				if _, isAction := actionArgs[words[i+1]]; isAction {
					break
				}
				i++
				addr := strings.TrimSuffix(words[i], ",")
				if _, err := mail.ParseAddress(addr); err != nil {
					bad(n, "%s: %q is not an address", kind, addr)
				}
				a.Args = append(a.Args, addr)
			}
			if len(a.Args) == 0 {
				bad(n, "%s needs at least one address", kind)
			}
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		bad(n, "no action")
	}
	return out
}

func addresses(s string) ([]string, error) {
	if s == "any" || s == "" {
		return nil, nil
	}
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" || strings.ContainsAny(a, " <>") {
			return nil, fmt.Errorf("%q is not an address, domain or .subdomain", a)
		}
		out = append(out, a)
	}
	return out, nil
}

// LoadOrDefault reads the policies file of a data directory; without one
// it builds the default policy from d. A policy of the file without an
// unscannable rule gets the default policy's (d.Unscannable): content
// nothing could judge is held unless a policy says otherwise.
func LoadOrDefault(dataDir string, d Defaults) ([]Policy, error) {
	def, err := Default(d)
	if err != nil {
		return nil, err
	}
	pols, err := Load(dataDir)
	if err != nil || pols == nil {
		return def, err
	}
	var unscannable Rule
	for _, r := range def[0].Rules {
		if r.Match == UnscannableRule {
			unscannable = r
		}
	}
	for i := range pols {
		if !hasRule(&pols[i], UnscannableRule) {
			pols[i].Rules = append(pols[i].Rules, unscannable)
		}
	}
	return pols, nil
}

func hasRule(p *Policy, match string) bool {
	for _, r := range p.Rules {
		if r.Match == match {
			return true
		}
	}
	return false
}

// Load reads the policies file of a data directory; without one it
// returns nil (the default policy applies).
func Load(dataDir string) ([]Policy, error) {
	path := filepath.Join(dataDir, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}
