package hub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"mailinspector/internal/hubapi"
)

// BenchmarkBatchReputation is one message's worth of links (7) asked in
// one request, over HTTP on loopback, from parallel clients.
func BenchmarkBatchReputation(b *testing.B) {
	base, key, _ := startHub(b)
	var urls []string
	for i := 0; i < 7; i++ {
		urls = append(urls, fmt.Sprintf(`"http://host%d.example.net/path/%d"`, i, i))
	}
	body := `{"urls":[` + strings.Join(urls, ",") + `]}`
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", base+"/v1/web-reputation", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var out struct{ Results []hubapi.ReputationAnswer }
			decodeJSON(b, resp, &out)
			if len(out.Results) != 7 {
				b.Fatalf("%d results", len(out.Results))
			}
		}
	})
}

// BenchmarkLookup is one message's worth of questions in one joint request
// (7 links to web reputation and web inspection, their hosts to the domain
// census, 2 files to known-good and the file census), over HTTP on
// loopback, from parallel clients.
func BenchmarkLookup(b *testing.B) {
	base, key, _ := startHub(b)
	var urls, names []string
	for i := 0; i < 7; i++ {
		urls = append(urls, fmt.Sprintf(`"http://host%d.example.net/path/%d"`, i, i))
		names = append(names, fmt.Sprintf(`"host%d.example.net"`, i))
	}
	files := `["` + strings.Repeat("a", 64) + `","` + strings.Repeat("b", 64) + `"]`
	body := `{"web-reputation":{"urls":[` + strings.Join(urls, ",") + `]},"web-inspection":{"urls":[` + strings.Join(urls, ",") +
		`]},"domain-census":{"names":[` + strings.Join(names, ",") + `]},"csss":{"sha256":` + files + `},"file-census":{"sha256":` + files + `}}`
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", base+"/v1/lookup", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var out map[string]struct{ Results []json.RawMessage }
			decodeJSON(b, resp, &out)
			if len(out["web-inspection"].Results) != 7 || len(out["file-census"].Results) != 2 {
				b.Fatalf("%+v", out)
			}
		}
	})
}
