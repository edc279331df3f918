package web

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"mailinspector/internal/cli"
	"mailinspector/internal/policy"
)

// Policies: the ordered policies, each with its scope and rules, changed
// one at a time through the command line's policy commands (put, delete,
// move, enable, disable), or the whole file as text (policies commit).
// The page reads the file with the policy package's parser; every change
// goes through the command layer, validated whole and audited there.

// policiesView is the Policies page.
type policiesView struct {
	Policies []policyRow
	Default  bool   // no file: the default policy applies
	Text     string // the file, for the text form
	Notice   string
	Error    string
}

type policyRow struct {
	policy.Policy
	Position int
	Rules    []string // "high: quarantine notify soc@…"
}

func (s *Server) policiesPage(w http.ResponseWriter, r *http.Request, u *user) {
	s.showPolicies(w, r, u, nil, "", "")
}

// showPolicies renders the page from the file as it is now; text, when
// not nil, is what the text form held (a commit that failed shows it).
func (s *Server) showPolicies(w http.ResponseWriter, r *http.Request, u *user, text *string, notice, errText string) {
	file, isDefault, ps, err := s.currentPolicies(r, u)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	view := policiesView{Text: file, Default: isDefault, Notice: notice, Error: errText}
	if isDefault {
		view.Text = ""
	}
	for i, p := range ps {
		row := policyRow{Policy: p, Position: i + 1}
		for _, rule := range p.Rules {
			row.Rules = append(row.Rules, rule.Match+": "+policy.ActionsText(rule.Actions))
		}
		view.Policies = append(view.Policies, row)
	}
	if text != nil {
		view.Text = *text
	}
	s.render(w, r, u, http.StatusOK, "policies", "Policies", view)
}

// currentPolicies is the policies file as show policies gives it, or,
// without one, the default policy as the policy commands write it out
// (isDefault), and the policies read from it (a file with errors: those
// that parse).
func (s *Server) currentPolicies(r *http.Request, u *user) (file string, isDefault bool, ps []policy.Policy, err error) {
	v, err := s.exec(r, u, "show", "policies")
	if err != nil {
		return "", false, nil, err
	}
	file = string(v.(cli.RawText))
	if strings.HasPrefix(file, "no policies file:") {
		isDefault = true
		if file, err = cli.DefaultPolicyText(r.Context(), s.cfg.Backend); err != nil {
			return "", false, nil, err
		}
	}
	ps, _ = policy.Parse(policy.FileName, []byte(file))
	return file, isDefault, ps, nil
}

// policiesCommit is configure policies with the text form's file:
// validated whole (every error with its line), nothing half-saved,
// audited.
func (s *Server) policiesCommit(w http.ResponseWriter, r *http.Request, u *user) {
	text := formText(r, "policies")
	v, err := cli.ExecWords(cli.WithInput(cli.WithCaller(r.Context(), u.caller), text), s.cfg.Backend, []string{"policies", "commit"})
	if err != nil {
		s.showPolicies(w, r, u, &text, "", "Nothing changed: "+err.Error())
		return
	}
	s.showPolicies(w, r, u, &text, v.(cli.Done).Message, "")
}

// policyAction is delete, up, down, enable and disable of one policy.
func (s *Server) policyAction(w http.ResponseWriter, r *http.Request, u *user) {
	name := r.PostForm.Get("name")
	pos, _ := strconv.Atoi(r.PostForm.Get("position"))
	var words []string
	switch verb := r.PathValue("verb"); verb {
	case "delete", "enable", "disable":
		words = []string{"policy", verb, name}
	case "up":
		words = []string{"policy", "move", name, strconv.Itoa(pos - 1)}
	case "down":
		words = []string{"policy", "move", name, strconv.Itoa(pos + 1)}
	default:
		http.NotFound(w, r)
		return
	}
	v, err := s.exec(r, u, words...)
	if err != nil {
		s.showPolicies(w, r, u, nil, "", "Nothing changed: "+err.Error())
		return
	}
	s.showPolicies(w, r, u, nil, v.(cli.Done).Message, "")
}

// policyForm is one policy's form: its name, scope, whether it decides,
// and the actions of each rule it can have (empty: no such rule).
type policyForm struct {
	Original   string // the policy's name before the edit; "": a new one
	Name       string
	Direction  string
	Senders    string
	Recipients string
	Enabled    bool
	Rules      []ruleField
	Errors     map[string]string // by field
	Error      string
}

type ruleField struct{ Match, Field, Actions string }

// ruleFieldName is a rule's form field: "rule-high", "rule-threat-malicious-url".
func ruleFieldName(match string) string {
	return "rule-" + strings.ReplaceAll(strings.ToLower(match), " ", "-")
}

func newPolicyForm() *policyForm {
	f := &policyForm{Direction: "any", Enabled: true, Errors: map[string]string{}}
	for _, m := range policy.Matches() {
		f.Rules = append(f.Rules, ruleField{Match: m, Field: ruleFieldName(m)})
	}
	return f
}

// policyEdit shows the form for the policy the query names, or an empty
// one for a new policy.
func (s *Server) policyEdit(w http.ResponseWriter, r *http.Request, u *user) {
	f := newPolicyForm()
	if name := r.URL.Query().Get("name"); name != "" {
		_, _, ps, err := s.currentPolicies(r, u)
		if err != nil {
			s.fail(w, r, u, err)
			return
		}
		var p *policy.Policy
		for i := range ps {
			if ps[i].Name == name {
				p = &ps[i]
			}
		}
		if p == nil {
			s.fail(w, r, u, fmt.Errorf("no such policy %q", name))
			return
		}
		f.Original, f.Name, f.Direction, f.Enabled = p.Name, p.Name, p.Direction, !p.Disabled
		f.Senders, f.Recipients = strings.Join(p.Senders, ", "), strings.Join(p.Recipients, ", ")
		for _, rule := range p.Rules {
			for i := range f.Rules {
				if f.Rules[i].Match == rule.Match {
					f.Rules[i].Actions = policy.ActionsText(rule.Actions)
				}
			}
		}
	}
	s.render(w, r, u, http.StatusOK, "policy", "Policy", f)
}

// errorLine is an error of a policy's text: "policy:3: unknown action".
var errorLine = regexp.MustCompile(`^policy:(\d+): (.*)$`)

// policySave writes the form as one policy and puts it with policy put:
// an error of a line is shown by the field that wrote the line, and
// nothing changes.
func (s *Server) policySave(w http.ResponseWriter, r *http.Request, u *user) {
	f := newPolicyForm()
	pf := r.PostForm
	f.Original, f.Name, f.Direction = pf.Get("original"), strings.TrimSpace(pf.Get("name")), pf.Get("direction")
	f.Senders, f.Recipients, f.Enabled = strings.TrimSpace(pf.Get("senders")), strings.TrimSpace(pf.Get("recipients")), pf.Get("enabled") == "on"
	// The policy's text, a line per field, and which field wrote each.
	var b strings.Builder
	var fields []string
	line := func(field, text string) {
		b.WriteString(text + "\n")
		fields = append(fields, field)
	}
	line("name", "policy "+strconv.Quote(f.Name))
	if !f.Enabled {
		line("enabled", "  disabled")
	}
	if f.Direction != "any" {
		line("direction", "  direction "+f.Direction)
	}
	if f.Senders != "" {
		line("senders", "  senders "+f.Senders)
	}
	if f.Recipients != "" {
		line("recipients", "  recipients "+f.Recipients)
	}
	for i := range f.Rules {
		f.Rules[i].Actions = strings.Join(strings.Fields(pf.Get(f.Rules[i].Field)), " ")
		if f.Rules[i].Actions != "" {
			line(f.Rules[i].Field, "  "+f.Rules[i].Match+" "+f.Rules[i].Actions)
		}
	}
	switch {
	case f.Name == "":
		f.Errors["name"] = "a policy needs a name"
	case strings.ContainsAny(f.Name, "\r\n#"):
		f.Errors["name"] = "one line, without # (the file's comments start with it)"
	case strings.ContainsAny(f.Senders+f.Recipients+f.Direction, "\r\n#"):
		f.Error = "a field holds a line break or a #"
	}
	if len(f.Errors) > 0 || f.Error != "" {
		s.render(w, r, u, http.StatusOK, "policy", "Policy", f)
		return
	}
	target := f.Original
	if target == "" {
		// A new policy: put would replace one of the same name.
		if _, _, ps, err := s.currentPolicies(r, u); err == nil {
			for _, p := range ps {
				if p.Name == f.Name {
					f.Errors["name"] = "a policy named " + strconv.Quote(f.Name) + " exists already"
					s.render(w, r, u, http.StatusOK, "policy", "Policy", f)
					return
				}
			}
		}
		target = f.Name
	}
	v, err := cli.ExecWords(cli.WithInput(cli.WithCaller(r.Context(), u.caller), b.String()), s.cfg.Backend, []string{"policy", "put", target})
	if err != nil {
		for _, l := range strings.Split(err.Error(), "\n") {
			if m := errorLine.FindStringSubmatch(l); m != nil {
				if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= len(fields) {
					f.Errors[fields[n-1]] = strings.TrimSpace(f.Errors[fields[n-1]] + " " + m[2])
					continue
				}
			}
			f.Error = strings.TrimSpace(f.Error + "\n" + l)
		}
		if f.Error == "" {
			f.Error = "Nothing changed: see the fields marked."
		} else {
			f.Error = "Nothing changed: " + f.Error
		}
		s.render(w, r, u, http.StatusOK, "policy", "Policy", f)
		return
	}
	s.showPolicies(w, r, u, nil, v.(cli.Done).Message, "")
}

// formText is a textarea's text with the line ends a browser sends (CRLF,
// as HTML says) made LF, as the files are.
func formText(r *http.Request, name string) string {
	return strings.ReplaceAll(r.PostForm.Get(name), "\r\n", "\n")
}
