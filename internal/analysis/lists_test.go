package analysis

import (
	"context"
	"testing"

	"mailinspector/internal/archive"
	"mailinspector/internal/message"
)

// The local lists' detail counts the files whose hashes it matched
// (attachments and archive members), not the message's body texts: a
// plain text message has no files to check.
func TestLocalListsCountsFilesNotBodies(t *testing.T) {
	body := message.Part{Path: "1", ContentType: "text/plain", SHA256: "b0"}
	html := message.Part{Path: "2", ContentType: "text/html", SHA256: "b1"}
	zip := message.Part{Path: "3", Filename: "a.zip", SHA256: "z0", Attachment: true}
	cases := []struct {
		name    string
		parts   []message.Part
		members []ArchiveMember
		want    string
	}{
		{"text only", []message.Part{body}, nil, "0 files and 1 URLs checked"},
		{"text and html", []message.Part{body, html}, nil, "0 files and 1 URLs checked"},
		{"an attachment", []message.Part{body, zip}, nil, "1 files and 1 URLs checked"},
		{"an archive with two members", []message.Part{body, zip},
			[]ArchiveMember{{Part: zip, Member: archive.Member{Path: "x", SHA256: "m0"}}, {Part: zip, Member: archive.Member{Path: "y", SHA256: "m1"}}},
			"3 files and 1 URLs checked"},
	}
	for _, c := range cases {
		m := &Message{Extract: &message.Result{Parts: c.parts, URLs: []message.URL{{URL: "https://a.example/"}}}, Members: c.members}
		res, err := LocalLists{BlockedHashes: []string{"ff"}}.Run(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		if res.Detail != c.want || len(res.Findings) != 0 {
			t.Errorf("%s: detail %q, %d findings; want %q and none", c.name, res.Detail, len(res.Findings), c.want)
		}
	}
	// A blocked body text is not a file: only attachments are matched.
	m := &Message{Extract: &message.Result{Parts: []message.Part{body, zip}}}
	res, _ := LocalLists{BlockedHashes: []string{"b0", "z0"}}.Run(context.Background(), m)
	if len(res.Findings) != 1 || res.Findings[0].Object != "z0" {
		t.Errorf("blocked hashes b0 (body) and z0 (attachment): findings %+v, want z0 only", res.Findings)
	}
}
