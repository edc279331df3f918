package policy

import (
	"fmt"
	"strings"
)

// Editing one policy of a file by its name, the way the console's forms
// and the command line's policy commands do: each policy is its lines as
// written (comments kept), from the comment lines right above its policy
// line to the next policy's; what comes before the first stays at the
// head. The result is parsed
// whole before anything is saved (configure's commit).

// block is one policy's lines.
type block struct{ name, text string }

// blocks splits a valid policies file.
func blocks(data string) (head string, bs []block, err error) {
	ps, err := Parse(FileName, []byte(data))
	if err != nil {
		return "", nil, fmt.Errorf("the policies file has errors; fix it as text first:\n%w", err)
	}
	lines := strings.SplitAfter(data, "\n")
	end := len(lines)
	for i := len(ps) - 1; i >= 0; i-- {
		// The comment lines right above a policy line are about it.
		start := ps[i].Line - 1
		for start > 0 && strings.HasPrefix(strings.TrimSpace(lines[start-1]), "#") {
			start--
		}
		bs = append([]block{{ps[i].Name, strings.Join(lines[start:end], "")}}, bs...)
		end = start
	}
	return strings.Join(lines[:end], ""), bs, nil
}

func join(head string, bs []block) string {
	var b strings.Builder
	b.WriteString(head)
	for _, x := range bs {
		b.WriteString(x.text)
		if !strings.HasSuffix(x.text, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// named splits a valid policies file and finds the policy named name.
func named(data, name string) (head string, bs []block, i int, err error) {
	if head, bs, err = blocks(data); err != nil {
		return "", nil, 0, err
	}
	if i = find(bs, name); i < 0 {
		return "", nil, 0, fmt.Errorf("no policy named %q", name)
	}
	return head, bs, i, nil
}

func find(bs []block, name string) int {
	for i, b := range bs {
		if b.name == name {
			return i
		}
	}
	return -1
}

// Put puts one policy (its lines, from policy "NAME") in the place of the
// policy named name, or after the last when there is none of that name.
func Put(data, name, policy string) (string, error) {
	ps, err := Parse("policy", []byte(policy))
	if err != nil {
		return "", err
	}
	if len(ps) != 1 {
		return "", fmt.Errorf("give one policy, from its policy \"NAME\" line (%d given)", len(ps))
	}
	head, bs, err := blocks(data)
	if err != nil {
		return "", err
	}
	if ps[0].Name != name && find(bs, ps[0].Name) >= 0 {
		return "", fmt.Errorf("a policy named %q exists already", ps[0].Name)
	}
	if !strings.HasSuffix(policy, "\n") {
		policy += "\n"
	}
	nb := block{ps[0].Name, policy}
	if i := find(bs, name); i >= 0 {
		// The comments above the policy and the blank lines after it
		// stay where they were.
		lead, _, tail := parts(bs[i].text)
		nb.text = lead + policy + tail
		bs[i] = nb
	} else {
		bs = append(bs, nb)
	}
	return join(head, bs), nil
}

// parts cuts a block into its comment lines above the policy line, the
// policy's own lines, and the blank lines at its end.
func parts(text string) (lead, body, tail string) {
	lines := strings.SplitAfter(text, "\n")
	i := 0
	for i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "#") {
		i++
	}
	j := len(lines)
	for j > i && strings.TrimSpace(lines[j-1]) == "" {
		j--
	}
	return strings.Join(lines[:i], ""), strings.Join(lines[i:j], ""), strings.Join(lines[j:], "")
}

// Delete takes the policy named name out.
func Delete(data, name string) (string, error) {
	head, bs, i, err := named(data, name)
	if err != nil {
		return "", err
	}
	return join(head, append(bs[:i], bs[i+1:]...)), nil
}

// Move puts the policy named name at position pos (1 is the first).
func Move(data, name string, pos int) (string, error) {
	head, bs, i, err := named(data, name)
	if err != nil {
		return "", err
	}
	if pos < 1 || pos > len(bs) {
		return "", fmt.Errorf("position %d: there are %d policies", pos, len(bs))
	}
	b := bs[i]
	bs = append(bs[:i], bs[i+1:]...)
	bs = append(bs[:pos-1], append([]block{b}, bs[pos-1:]...)...)
	return join(head, bs), nil
}

// SetDisabled disables the policy named name (its "disabled" line) or
// enables it again.
func SetDisabled(data, name string, disabled bool) (string, error) {
	head, bs, i, err := named(data, name)
	if err != nil {
		return "", err
	}
	lead, body, tail := parts(bs[i].text)
	lines := strings.SplitAfter(body, "\n")
	out := []string{lead, lines[0]} // lines[0] is the policy line
	if disabled {
		out = append(out, "  disabled\n")
	}
	for _, l := range lines[1:] {
		code, _, _ := strings.Cut(l, "#")
		if strings.TrimSpace(code) != "disabled" {
			out = append(out, l)
		}
	}
	bs[i].text = strings.Join(append(out, tail), "")
	return join(head, bs), nil
}

// Format writes a policy in the file's grammar, one line a setting and a
// rule, in the order of Fields: what the console's form puts.
func Format(p Policy) string {
	var b strings.Builder
	fmt.Fprintf(&b, "policy %q\n", p.Name)
	if p.Disabled {
		b.WriteString("  disabled\n")
	}
	if p.Direction != "" && p.Direction != "any" {
		fmt.Fprintf(&b, "  direction %s\n", p.Direction)
	}
	if len(p.Senders) > 0 {
		fmt.Fprintf(&b, "  senders %s\n", strings.Join(p.Senders, ", "))
	}
	if len(p.Recipients) > 0 {
		fmt.Fprintf(&b, "  recipients %s\n", strings.Join(p.Recipients, ", "))
	}
	for _, r := range p.Rules {
		fmt.Fprintf(&b, "  %s %s\n", r.Match, ActionsText(r.Actions))
	}
	return b.String()
}

// ActionsText is a rule's actions as the file writes them.
func ActionsText(as []Action) string {
	var parts []string
	for _, a := range as {
		s := a.Kind
		if len(a.Args) > 0 {
			s += " " + strings.Join(a.Args, ", ")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// Matches are the rules a policy can have, in the order the console's
// form lists them: the risks, unscannable, then each threat type.
func Matches() []string {
	out := []string{"high", "medium", "low", "unrated", UnscannableRule, "none"}
	for _, t := range ThreatTypes {
		out = append(out, "threat "+t)
	}
	return out
}
