package appliance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"mailinspector/internal/cli"
	"mailinspector/internal/headerline"
	"mailinspector/internal/message"
	"mailinspector/internal/store"
)

// What show message gives beyond the message's row, trail and findings:
// the files, links and relays its verdict recorded, each file and link
// with what the engines made of it, and its header as received.

// fileStages and linkStages are the steps of the trail that judge files
// and links: a file or link without a finding shows how each ran.
var (
	fileStages = []string{"known-good", "local-lists", "pattern-engine", "file-census", "predictive-ml", "virtual-analyzer"}
	linkStages = []string{"local-lists", "web-reputation", "web-inspection", "domain-census", "virtual-analyzer"}
)

// addObjects fills d's attachments, links and relays.
func (a *Appliance) addObjects(ctx context.Context, d *cli.MessageDetail, fs []store.Finding, trail []store.TrailEntry) error {
	objs, err := a.db.Objects(ctx, d.ID)
	if err != nil {
		return err
	}
	// The findings about each object, and the stages that made one.
	byObject, stageFound := map[string][]string{}, map[string]bool{}
	for _, f := range fs {
		if f.Object != "" {
			what := f.Threat
			if what == "" {
				what = f.Name
			}
			byObject[f.Object] = append(byObject[f.Object], fmt.Sprintf("%s: %s, %s", f.Engine, what, f.Risk))
			stageFound[f.Stage+"\x00"+f.Object] = true
		}
	}
	// The last outcome of each step (a held message runs some twice).
	last := map[string]store.TrailEntry{}
	for _, t := range trail {
		last[t.Stage] = t
	}
	// results are the findings about an object (by either of its
	// hashes), then how each stage that judges such objects ran, unless
	// its finding says it already: a step with findings about other
	// objects found nothing about this one.
	results := func(stages []string, keys ...string) []string {
		out := []string{}
		for _, k := range keys {
			out = append(out, byObject[k]...)
		}
		for _, st := range stages {
			t, ok := last[st]
			if !ok {
				continue
			}
			found := false
			for _, k := range keys {
				found = found || k != "" && stageFound[st+"\x00"+k]
			}
			switch {
			case t.Outcome == "skipped":
				out = append(out, st+": skipped ("+t.Detail+")")
			case found:
			case t.Outcome == "finding":
				out = append(out, st+": nothing about this one")
			default:
				out = append(out, st+": "+t.Outcome)
			}
		}
		return out
	}
	clicks, err := a.db.Clicks(ctx, store.ClickQuery{MessageID: d.ID, Limit: 1000})
	if err != nil {
		return err
	}
	type clickCount struct {
		n    int
		last string
	}
	byURL := map[string]*clickCount{}
	for _, c := range clicks { // newest first
		cc := byURL[c.URL]
		if cc == nil {
			cc = &clickCount{last: timeText(c.At) + " " + c.Action + " (risk " + c.RiskNow + ")"}
			byURL[c.URL] = cc
		}
		cc.n++
	}
	for _, o := range objs {
		switch o.Kind {
		case store.ObjectFile:
			f := cli.Attachment{Name: o.Name, Location: o.Location, Declared: o.Declared, TrueType: o.TrueType, Size: o.Size,
				SHA256: o.Value, SHA1: o.SHA1}
			f.Results = results(fileStages, o.Value, o.SHA1)
			if va, err := a.db.SandboxVerdict(ctx, o.Value); err == nil {
				f.Sandbox = va.State
				if va.Risk != "" {
					f.Sandbox += ", " + va.Risk
				}
				f.Report = va.State == "done"
			} else if !errors.Is(err, store.ErrNoAnalysis) {
				return err
			}
			d.Attachments = append(d.Attachments, f)
		case store.ObjectURL:
			l := cli.Link{URL: o.Value, Written: o.Name, Location: o.Location, Results: results(linkStages, o.Value)}
			if cc := byURL[o.Value]; cc != nil {
				l.Clicks, l.LastClick = cc.n, cc.last
			}
			d.Links = append(d.Links, l)
		case store.ObjectIP:
			d.Relays = append(d.Relays, o.Value)
		}
	}
	return nil
}

// maxHeaderBytes bounds the header show message reads.
const maxHeaderBytes = 256 << 10

// addHeaders reads the message's header from the spool while its bytes
// are kept; otherwise HeadersGone says why there is none.
func (a *Appliance) addHeaders(d *cli.MessageDetail) {
	f, err := a.spool.Open(d.ID)
	if err != nil {
		d.HeadersGone = "its bytes are no longer kept (delivered, deleted or monitored messages are not)"
		return
	}
	defer f.Close()
	br := bufio.NewReaderSize(io.LimitReader(f, maxHeaderBytes), 16<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 || headerline.IsBlank(line) {
			break
		}
		text := strings.TrimRight(string(line), "\r\n")
		switch {
		case headerline.IsContinuation(line) && len(d.Headers) > 0:
			d.Headers[len(d.Headers)-1].Value += " " + strings.TrimSpace(text)
		case headerline.IsField(line):
			name, value, _ := strings.Cut(text, ":")
			d.Headers = append(d.Headers, cli.HeaderField{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
		default:
			// Not a field: the body began without a blank line (the walk
			// reads it so too).
			return
		}
		if err != nil {
			return
		}
	}
}

// previewBytes bounds show preview's text.
const previewBytes = 64 << 10

// Preview is show preview.
func (a *Appliance) Preview(ctx context.Context, id string) (*cli.Preview, error) {
	if _, err := a.db.GetMessage(ctx, id); err != nil {
		return nil, fmt.Errorf("message %s: %w", id, err)
	}
	f, err := a.spool.Open(id)
	if err != nil {
		return nil, fmt.Errorf("message %s: its bytes are no longer kept (delivered, deleted or monitored messages are not)", id)
	}
	defer f.Close()
	text, from, cut, err := message.Preview(f, message.DefaultLimits, previewBytes)
	if err != nil {
		return nil, err
	}
	return &cli.Preview{ID: id, From: from, Text: text, Cut: cut}, nil
}
