package hub

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
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
			var out struct{ Results []ReputationAnswer }
			decodeJSON(b, resp, &out)
			if len(out.Results) != 7 {
				b.Fatalf("%d results", len(out.Results))
			}
		}
	})
}
