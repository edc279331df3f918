package cli

import (
	"context"
	"fmt"
	"strings"
)

// ListInfo is one list setting (senders, exceptions, hashes, URLs,
// domains) with its entries: show lists.
type ListInfo struct {
	Key     string   `json:"key"`
	Doc     string   `json:"doc"`
	Types   []string `json:"types"` // the CSV types it takes
	Entries []string `json:"entries"`
}

var listCommands = []command{
	{[]string{"show", "lists"}, "", "the lists (senders, exceptions, hashes, URLs, domains) with their entries", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.Lists(ctx) }, "", false, false},
	{[]string{"list", "export"}, "KEY", "a list as CSV in DDEI's form: <type>,<object>,[source],[notes]", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			csv, err := b.ListExport(ctx, a[0])
			return RawText(csv), err
		}, "", false, false},
	{[]string{"list", "import"}, "KEY [replace]", "add the entries of a CSV on standard input (<type>,<object>,[source],[notes]) to a list, or replace its entries: every line checked, then one commit", 1, 2,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			replace := len(a) == 2
			if replace && !strings.EqualFold(a[1], "replace") {
				return nil, fmt.Errorf("%w: list import KEY [replace]", ErrUsage)
			}
			in := InputOf(ctx)
			if strings.TrimSpace(in) == "" {
				return nil, fmt.Errorf("%w: the CSV comes on standard input: list import KEY < list.csv", ErrUsage)
			}
			return b.ListImport(ctx, a[0], in, replace)
		}, "lists", false, false},
}

func init() { commands = append(commands, listCommands...) }

func listsText(ls []ListInfo) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "%s (%d): ", l.Key, len(l.Entries))
		if len(l.Entries) == 0 {
			b.WriteString("empty")
		}
		for i, e := range l.Entries {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(term(e))
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
