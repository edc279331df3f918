package configure

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"mailinspector/internal/settings"
)

// The list settings as CSV in DDEI's form, one entry a line:
//
//	<type>,<object>,[source],[notes]
//
// The types each list takes are listTypes'; a header line (type,object,…),
// blank lines and # comments are skipped. An import checks every line (its
// type and its entry, as the setting would) and commits all of them in one
// change, or nothing with every bad line named. The list settings keep
// entries only: source and notes are read and not kept; an export writes
// source "mailinspector".

// listTypes are the CSV types each list takes.
var listTypes = map[string][]string{
	"senders.blocked":        {"sender", "email", "domain"},
	"senders.approved":       {"sender", "email", "domain"},
	"exceptions.senders":     {"sender", "email", "domain"},
	"exceptions.recipients":  {"recipient", "email", "domain"},
	"lists.blocked_hashes":   {"sha256", "sha1", "file"},
	"lists.approved_hashes":  {"sha256", "sha1", "file"},
	"lists.blocked_urls":     {"url"},
	"lists.blocked_domains":  {"domain"},
	"lists.approved_domains": {"domain"},
}

// ListEntries are the entries of the list key as the settings file has
// them.
func (c *Configurator) ListEntries(key string) ([]string, error) {
	if !slices.Contains(ListKeys(), key) {
		return nil, fmt.Errorf("%s is not a list (lists: %s)", key, strings.Join(ListKeys(), ", "))
	}
	vs, err := settings.Values(c.DataDir)
	if err != nil {
		return nil, err
	}
	var entries []string
	for _, v := range vs {
		if v.Key == key {
			for _, e := range strings.Split(v.Value, ",") {
				if e = strings.TrimSpace(e); e != "" {
					entries = append(entries, e)
				}
			}
		}
	}
	return entries, nil
}

// ExportList writes the list key as CSV.
func (c *Configurator) ExportList(key string) (string, error) {
	entries, err := c.ListEntries(key)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"type", "object", "source", "notes"})
	for _, e := range entries {
		w.Write([]string{entryType(key, e), e, "mailinspector", ""})
	}
	w.Flush()
	return b.String(), w.Error()
}

// entryType is the CSV type an export gives an entry of key.
func entryType(key, e string) string {
	switch t := listTypes[key][0]; t {
	case "sender", "recipient":
		if !strings.Contains(e, "@") {
			return "domain"
		}
		return t
	case "sha256":
		if len(e) == 40 {
			return "sha1"
		}
		return t
	default:
		return t
	}
}

// ImportList adds the entries of a CSV to the list key (replace: instead
// of the entries it has), checked whole first, in one commit.
func (c *Configurator) ImportList(key, data string, replace bool) (Change, error) {
	entries, err := c.ListEntries(key)
	if err != nil {
		return Change{}, err
	}
	if replace {
		entries = nil
	}
	r := csv.NewReader(strings.NewReader(data))
	r.FieldsPerRecord, r.Comment, r.TrimLeadingSpace = -1, '#', true
	var errs []string
	added := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				errs = append(errs, fmt.Sprintf("line %d: %v", pe.StartLine, pe.Err))
				continue
			}
			errs = append(errs, err.Error())
			break
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		typ := strings.ToLower(strings.TrimSpace(rec[0]))
		if typ == "type" {
			continue // a header
		}
		if len(rec) < 2 || len(rec) > 4 {
			errs = append(errs, fmt.Sprintf("line %d: want <type>,<object>,[source],[notes]", line))
			continue
		}
		if !slices.Contains(listTypes[key], typ) {
			errs = append(errs, fmt.Sprintf("line %d: type %q does not go in %s (it takes %s)", line, rec[0], key, strings.Join(listTypes[key], ", ")))
			continue
		}
		e := strings.TrimSpace(rec[1])
		if e == "" || strings.Contains(e, ",") {
			errs = append(errs, fmt.Sprintf("line %d: one entry, without commas", line))
			continue
		}
		if err := settings.Check(key, e); err != nil {
			errs = append(errs, fmt.Sprintf("line %d: %s: %v", line, e, err))
			continue
		}
		if !slices.ContainsFunc(entries, func(x string) bool { return strings.EqualFold(x, e) }) {
			entries = append(entries, e)
			added++
		}
	}
	if len(errs) > 0 {
		return Change{}, fmt.Errorf("nothing imported:\n%s", strings.Join(errs, "\n"))
	}
	if added == 0 && !replace {
		return Change{}, fmt.Errorf("nothing imported: every entry is in %s already", key)
	}
	return c.Commit(map[string]string{key: strings.Join(entries, ",")}, 0)
}

// ListTypes are the CSV types the list key takes.
func ListTypes(key string) []string { return append([]string(nil), listTypes[key]...) }
