package cli

import (
	"context"
	"fmt"
	"strconv"

	"mailinspector/internal/policy"
)

// The policy commands change one policy of policies.conf by its name
// (policy.Put, Delete, Move, SetDisabled) and commit the whole file as
// policies commit does: validated whole, the diff shown, reloaded,
// audited. Without a file the default policy is written out first, as
// the policy "Default" from the settings policy.*, and stays the last:
// a policy added then decides for what its scope covers, and nothing
// else changes.

var policyCommands = []command{
	{[]string{"policy", "put"}, "NAME", "put the policy given on standard input (from its policy \"NAME\" line) in the place of the policy NAME, or after the last", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			in := InputOf(ctx)
			if in == "" {
				return nil, fmt.Errorf("%w: the policy comes on standard input, from its policy \"NAME\" line", ErrUsage)
			}
			return editPolicies(ctx, b, func(data string) (string, error) { return policy.Put(data, a[0], in) })
		}, "policies", false, false},
	{[]string{"show", "policy-templates"}, "", "the policy templates the installed policy-templates bundle offers (policy template apply NAME puts one in the policies)", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.PolicyTemplates(ctx) }, "", false, false},
	{[]string{"policy", "template", "apply"}, "NAME", "put the policy template NAME (show policy-templates) in the place of the policy NAME, or after the last", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			ts, err := b.PolicyTemplates(ctx)
			if err != nil {
				return nil, err
			}
			for _, t := range ts {
				if t.Name == a[0] {
					return editPolicies(ctx, b, func(data string) (string, error) { return policy.Put(data, t.Name, t.Text) })
				}
			}
			return nil, fmt.Errorf("%w: no policy template %q (show policy-templates)", ErrUsage, a[0])
		}, "policies", false, false},
	{[]string{"policy", "delete"}, "NAME", "take the policy NAME out", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			return editPolicies(ctx, b, func(data string) (string, error) { return policy.Delete(data, a[0]) })
		}, "policies", false, false},
	{[]string{"policy", "move"}, "NAME POSITION", "put the policy NAME at POSITION (1: the first, which decides first)", 2, 2,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			pos, err := strconv.Atoi(a[1])
			if err != nil {
				return nil, fmt.Errorf("%w: POSITION is a number", ErrUsage)
			}
			return editPolicies(ctx, b, func(data string) (string, error) { return policy.Move(data, a[0], pos) })
		}, "policies", false, false},
	{[]string{"policy", "disable"}, "NAME", "keep the policy NAME in the file and out of every decision", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			return editPolicies(ctx, b, func(data string) (string, error) { return policy.SetDisabled(data, a[0], true) })
		}, "policies", false, false},
	{[]string{"policy", "enable"}, "NAME", "let the disabled policy NAME decide again", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			return editPolicies(ctx, b, func(data string) (string, error) { return policy.SetDisabled(data, a[0], false) })
		}, "policies", false, false},
}

func editPolicies(ctx context.Context, b Backend, edit func(string) (string, error)) (any, error) {
	data, err := b.Policies(ctx)
	if err != nil {
		return nil, err
	}
	seeded := data == ""
	if seeded {
		if data, err = DefaultPolicyText(ctx, b); err != nil {
			return nil, err
		}
	}
	out, err := edit(data)
	if err != nil {
		return nil, err
	}
	if ps, _ := policy.Parse(policy.FileName, []byte(out)); seeded && len(ps) > 1 && ps[0].Name == "Default" {
		// The default policy decided for everything: a policy added
		// before it is written would never decide. It goes last.
		if out, err = policy.Move(out, "Default", len(ps)); err != nil {
			return nil, err
		}
	}
	return b.CommitPolicies(ctx, out, 0)
}

// DefaultPolicyText is the default policy as a policies file: the rules
// the settings policy.high, policy.unscannable, policy.medium and
// policy.unrated give.
func DefaultPolicyText(ctx context.Context, b Backend) (string, error) {
	vs, err := b.ShowSettings(ctx, "policy.")
	if err != nil {
		return "", err
	}
	val := map[string]string{}
	for _, v := range vs {
		val[v.Key] = v.Value
	}
	text := "# Written from the default policy (the settings policy.*) when the first policy was edited.\npolicy \"Default\"\n"
	for _, r := range []string{"high", "unscannable", "medium", "unrated"} {
		if v := val["policy."+r]; v != "" {
			text += "  " + r + " " + v + "\n"
		}
	}
	return text, nil
}

func init() { commands = append(commands, policyCommands...) }

// PolicyTemplate is one policy template (show policy-templates).
type PolicyTemplate struct {
	Name    string `json:"name"`
	Version uint64 `json:"version"` // of the policy-templates bundle
	Text    string `json:"text"`
}
