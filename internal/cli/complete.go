package cli

import (
	"sort"
	"strings"
)

// Complete is TAB completion of a command line: the whole words that can
// follow what is typed before the cursor (head), given its last word is
// being typed ("" after a space). Command words come from the commands
// table, so completion never offers what Exec would not take.
func Complete(head string) []string {
	prefix, partial := SplitHead(head)
	seen := map[string]bool{}
	var out []string
	for _, c := range commands {
		if len(c.words) <= len(prefix) || !equalFold(prefix, c.words[:len(prefix)]) {
			continue
		}
		w := c.words[len(prefix)]
		if strings.HasPrefix(w, strings.ToLower(partial)) && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	sort.Strings(out)
	return out
}

// SplitHead splits what is typed before the cursor into the finished
// words and the one being typed.
func SplitHead(head string) (words []string, partial string) {
	words = strings.Fields(head)
	if len(words) > 0 && !strings.HasSuffix(head, " ") {
		partial, words = words[len(words)-1], words[:len(words)-1]
	}
	return words, partial
}

// Describe is what ? shows for a line being typed: the commands that begin
// with its words, with their arguments and meaning.
func Describe(head string) string {
	words := strings.Fields(head)
	var lines []string
	for _, c := range commands {
		n := min(len(words), len(c.words))
		match := true
		for i := 0; i < n; i++ {
			last := i == len(words)-1 && !strings.HasSuffix(head, " ")
			if last && !strings.HasPrefix(c.words[i], strings.ToLower(words[i])) || !last && !strings.EqualFold(c.words[i], words[i]) {
				match = false
				break
			}
		}
		if match {
			syn := strings.Join(c.words, " ")
			if c.args != "" {
				syn += " " + c.args
			}
			lines = append(lines, "  "+syn+"\n      "+c.help)
		}
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return "  no command begins so (help lists them)"
	}
	return strings.Join(lines, "\n")
}
