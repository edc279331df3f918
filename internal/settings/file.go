package settings

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mailinspector/internal/durable"
)

// FileName is the settings file inside the data directory; HistoryDir keeps
// the versions it replaced, newest last, for rollback.
const (
	FileName   = "settings.conf"
	HistoryDir = "settings.history"
	keepOld    = 10
)

// Errors lists every problem found in a settings file, not only the first,
// so an administrator fixes them in one go.
type Errors []error

func (e Errors) Error() string {
	var b strings.Builder
	for i, err := range e {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// Parse reads "key = value" lines; blank lines and lines starting with # are
// comments. It returns the values found, in no particular order, and every
// syntax error, unknown key and duplicate with its line number.
func Parse(name string, data []byte) (map[string]string, error) {
	vals := map[string]string{}
	seen := map[string]int{}
	var errs Errors
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("%s:%d: want key = value, got %q", name, n, line))
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, ok := lookupKey(k); !ok {
			errs = append(errs, fmt.Errorf("%s:%d: unknown key %q (mailinspector settings describe lists them)", name, n, k))
			continue
		}
		if prev, dup := seen[k]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: %s is already set on line %d", name, n, k, prev))
			continue
		}
		seen[k] = n
		vals[k] = v
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	if len(errs) > 0 {
		return vals, errs
	}
	return vals, nil
}

// Build applies values over the defaults and validates each key and the
// combination, returning every error found.
func Build(vals map[string]string) (*Settings, error) {
	s := &Settings{}
	var errs Errors
	for _, k := range keys {
		v, ok := vals[k.Name]
		if !ok {
			v = k.Default
		}
		if err := k.set(s, v); err != nil {
			errs = append(errs, fmt.Errorf("%s = %q: %w", k.Name, v, err))
		}
	}
	for name := range vals {
		if _, ok := lookupKey(name); !ok {
			errs = append(errs, fmt.Errorf("unknown key %q", name))
		}
	}
	if (s.SMTP.TLSCert == "") != (s.SMTP.TLSKey == "") {
		errs = append(errs, errors.New("smtp.tls_cert and smtp.tls_key go together: set both or neither"))
	}
	if s.Sandbox.Proxy != "off" && !s.Sandbox.FakeNet.IsValid() {
		errs = append(errs, errors.New("sandbox.proxy listens on the host's sandbox address: set sandbox.fakenet too"))
	}
	if s.Sandbox.ProxySamples && s.Sandbox.Proxy == "off" {
		errs = append(errs, errors.New("sandbox.proxy_samples gives files sandbox.proxy, which is off"))
	}
	if s.Sandbox.URLs != "off" && s.Sandbox.Proxy == "off" {
		// Against the fake internet every link answers the same page: an
		// analysis of it would be a hollow "no risk".
		errs = append(errs, errors.New("sandbox.urls wants the sandbox's way to the web: set sandbox.proxy (direct or an upstream proxy), or sandbox.urls = off"))
	}
	if s.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		s.Hostname = h
	}
	if s.Click.BaseURL == "" {
		s.Click.BaseURL = "http://" + s.Hostname + ":8025"
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// Load reads the settings file of dataDir, writing a documented one with the
// defaults first if there is none, and applies overrides (from --set) on top
// without writing them.
func Load(dataDir string, overrides map[string]string) (*Settings, error) {
	path := filepath.Join(dataDir, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		data = DefaultFile()
		if err := writeAtomic(dataDir, path, data); err != nil {
			return nil, fmt.Errorf("write default settings: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	vals, perr := Parse(path, data)
	var errs Errors
	if perr != nil {
		errs = append(errs, perr.(Errors)...)
	}
	for k, v := range overrides {
		if _, ok := lookupKey(k); !ok {
			errs = append(errs, fmt.Errorf("--set %s: unknown key (mailinspector settings describe lists them)", k))
			continue
		}
		vals[k] = v
	}
	s, berr := Build(vals)
	if berr != nil {
		errs = append(errs, berr.(Errors)...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// DefaultFile is the settings file written on first start: every key,
// commented out at its default, under its documentation.
func DefaultFile() []byte {
	var b bytes.Buffer
	b.WriteString("# Mail Inspector settings: one \"key = value\" per line; # starts a comment.\n")
	b.WriteString("# Every key is listed below at its default, commented out. Remove the # to change one.\n")
	b.WriteString("# `mailinspector settings describe` prints the same list.\n")
	for _, k := range keys {
		b.WriteString("\n")
		for _, l := range wrap(k.Doc, 88) {
			b.WriteString("# " + l + "\n")
		}
		fmt.Fprintf(&b, "#%s = %s\n", k.Name, k.Default)
	}
	return b.Bytes()
}

// Describe is the text of `mailinspector settings describe`.
func Describe() string {
	var b strings.Builder
	for _, k := range keys {
		def := k.Default
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "%s\n    default: %s\n", k.Name, def)
		for _, l := range wrap(k.Doc, 84) {
			b.WriteString("    " + l + "\n")
		}
	}
	return b.String()
}

// Markdown is docs/settings.md: every key with its default and meaning,
// grouped by the part before the key's first dot, in the order of
// `settings describe`.
func Markdown() string {
	var b strings.Builder
	b.WriteString("# Settings\n\n" +
		"Every key of `settings.conf`, its default and what it does: the text of `mailinspector\n" +
		"settings describe`, generated from the keys table (`internal/settings/keys*.go`) by\n" +
		"`make docs`. Do not edit by hand: `TestSettingsDocIsCurrent` fails when this page and the\n" +
		"table differ. `mailinspector settings check --data-dir DIR` validates a settings file\n" +
		"and lists every error; `serve --set KEY=VALUE` overrides a key for one run.\n")
	group := "\x00"
	for _, k := range keys {
		g, _, ok := strings.Cut(k.Name, ".")
		if !ok {
			g = "general"
		}
		if g != group {
			group = g
			fmt.Fprintf(&b, "\n## %s\n\n| key | default | meaning |\n|---|---|---|\n", g)
		}
		def := "(empty)"
		if k.Default != "" {
			def = "`" + k.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", k.Name, def, strings.ReplaceAll(strings.Join(strings.Fields(k.Doc), " "), "|", "\\|"))
	}
	return b.String()
}

func wrap(s string, width int) []string {
	var lines []string
	var cur string
	for _, w := range strings.Fields(s) {
		if cur != "" && len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// Update changes keys in the settings file of dataDir: the result is
// validated as a whole, the old file is kept in the history, and the new one
// replaces it atomically. Lines and comments the administrator wrote stay.
func Update(dataDir string, changes map[string]string) error {
	path := filepath.Join(dataDir, FileName)
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		old = DefaultFile()
	} else if err != nil {
		return fmt.Errorf("read settings: %w", err)
	}
	next := rewrite(old, changes)
	vals, err := Parse(path, next)
	if err != nil {
		return err
	}
	if _, err := Build(vals); err != nil {
		return err
	}
	if err := keepHistory(dataDir, old); err != nil {
		return err
	}
	return writeAtomic(dataDir, path, next)
}

// rewrite sets each changed key on its existing line (uncommenting a
// "#key = default" line if that is all there is), or appends it.
func rewrite(data []byte, changes map[string]string) []byte {
	done := map[string]bool{}
	lines := strings.SplitAfter(string(data), "\n")
	active := map[string]bool{}
	for _, l := range lines {
		if k, _, ok := strings.Cut(strings.TrimSpace(l), "="); ok && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			active[strings.TrimSpace(k)] = true
		}
	}
	for i, l := range lines {
		t := strings.TrimSpace(l)
		commented := strings.HasPrefix(t, "#")
		k, _, ok := strings.Cut(strings.TrimPrefix(t, "#"), "=")
		k = strings.TrimSpace(k)
		v, change := changes[k]
		if !ok || !change || done[k] || (commented && active[k]) {
			continue
		}
		if _, known := lookupKey(k); !known {
			continue
		}
		lines[i] = k + " = " + v + "\n"
		done[k] = true
	}
	out := strings.Join(lines, "")
	names := make([]string, 0, len(changes))
	for k := range changes {
		if !done[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		if !strings.HasSuffix(out, "\n") && out != "" {
			out += "\n"
		}
		out += k + " = " + changes[k] + "\n"
	}
	return []byte(out)
}

func keepHistory(dataDir string, old []byte) error {
	dir := filepath.Join(dataDir, HistoryDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if err := ownLikeDataDir(dataDir, dir); err != nil {
		return err
	}
	name := filepath.Join(dir, "settings-"+time.Now().UTC().Format("20060102T150405.000000000Z")+".conf")
	if err := writeAtomic(dataDir, name, old); err != nil {
		return err
	}
	versions, err := History(dataDir)
	if err != nil {
		return err
	}
	for len(versions) > keepOld {
		if err := os.Remove(versions[0]); err != nil {
			return err
		}
		versions = versions[1:]
	}
	return nil
}

// History lists the kept earlier versions, oldest first.
func History(dataDir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dataDir, HistoryDir, "settings-*.conf"))
	sort.Strings(m)
	return m, err
}

// Rollback puts the newest kept version back in place (after validating
// it); the version being replaced goes to the history in turn.
func Rollback(dataDir string) error {
	versions, err := History(dataDir)
	if err != nil {
		return err
	}
	if len(versions) == 0 {
		return errors.New("no earlier settings kept")
	}
	prev := versions[len(versions)-1]
	data, err := os.ReadFile(prev)
	if err != nil {
		return err
	}
	vals, err := Parse(prev, data)
	if err != nil {
		return err
	}
	if _, err := Build(vals); err != nil {
		return err
	}
	cur, err := os.ReadFile(filepath.Join(dataDir, FileName))
	if err != nil {
		return err
	}
	if err := writeAtomic(dataDir, filepath.Join(dataDir, FileName), data); err != nil {
		return err
	}
	if err := os.Remove(prev); err != nil {
		return err
	}
	return keepHistory(dataDir, cur)
}

func writeAtomic(dataDir, path string, data []byte) error {
	if err := durable.WriteFile(path, data, 0o640); err != nil {
		return err
	}
	return ownLikeDataDir(dataDir, path)
}
