package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/updates/signed"
)

// startHub runs a hub on loopback with every test feed imported and
// returns its URL and an appliance key.
func startHub(t testing.TB) (string, string, *Store) {
	t.Helper()
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for kind, file := range map[string]string{"urlhaus-csv": "urlhaus.csv", "malwarebazaar-csv": "malwarebazaar.csv",
		"openphish-txt": "openphish.txt", "phishtank-csv": "phishtank.csv", "spamhaus-drop-json": "drop_v4.json",
		"known-good-sha256": "known-good.txt"} {
		if _, err := st.Import(ctx, kind, filepath.Join("testdata", file)); err != nil {
			t.Fatal(err)
		}
	}
	key, err := st.AddKey(ctx, "appliance-1")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(st, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL, key, st
}

// decodeJSON reads a JSON answer.
func decodeJSON(t testing.TB, resp *http.Response, out any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, base, key, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return do(t, req, out)
}

func do(t *testing.T, req *http.Request, out any) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s: %v", req.URL, err)
		}
	}
	return resp.StatusCode
}

func TestImportCountsAndStatus(t *testing.T) {
	base, key, _ := startHub(t)
	var st struct {
		Feeds []Feed `json:"feeds"`
	}
	if code := get(t, base, key, "/v1/status", &st); code != 200 {
		t.Fatalf("status: %d", code)
	}
	want := map[string]int{"urlhaus-csv": 3, "malwarebazaar-csv": 2, "openphish-txt": 2, "phishtank-csv": 1,
		"spamhaus-drop-json": 2, "known-good-sha256": 1}
	if len(st.Feeds) != len(want) {
		t.Fatalf("feeds: %+v", st.Feeds)
	}
	for _, f := range st.Feeds {
		if want[f.Kind] != f.Rows || f.ImportedAt.IsZero() {
			t.Errorf("feed %s: %d rows (want %d), imported %s", f.Kind, f.Rows, want[f.Kind], f.ImportedAt)
		}
	}
}

func TestReimportReplacesAndBadFileChangesNothing(t *testing.T) {
	base, key, st := startHub(t)
	ctx := context.Background()
	dir := t.TempDir()
	one := filepath.Join(dir, "openphish.txt")
	os.WriteFile(one, []byte("https://new.phish.example/\n"), 0o644)
	if n, err := st.Import(ctx, "openphish-txt", one); err != nil || n != 1 {
		t.Fatalf("re-import: %d %v", n, err)
	}
	var rep struct{ Rating string }
	get(t, base, key, "/v1/web-reputation?url="+url.QueryEscape("https://login.phish-one.test/secure/verify.php"), &rep)
	if rep.Rating != "unrated" {
		t.Fatalf("a URL of the replaced feed is still rated %s", rep.Rating)
	}
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("# ok\nnot-a-hash\n"), 0o644)
	_, err := st.Import(ctx, "known-good-sha256", bad)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad file: %v", err)
	}
	var cs struct {
		KnownGood bool `json:"known_good"`
	}
	get(t, base, key, "/v1/csss?sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", &cs)
	if !cs.KnownGood {
		t.Fatal("a failed import removed the feed's rows")
	}
	if _, err := st.Import(ctx, "no-such-feed", one); err == nil {
		t.Fatal("unknown feed kind accepted")
	}
}

func TestUnknownKeyIs401(t *testing.T) {
	base, _, _ := startHub(t)
	for _, key := range []string{"", "mih_wrong"} {
		var e struct {
			Error struct{ Code string }
		}
		if code := get(t, base, key, "/v1/status", &e); code != 401 || e.Error.Code != "unauthorized" {
			t.Fatalf("key %q: %d %+v", key, code, e)
		}
	}
}

func TestWebReputationAndInspection(t *testing.T) {
	base, key, _ := startHub(t)
	for _, tc := range []struct{ url, rating string }{
		{"http://cdn.badfiles.test/payload.exe", "malicious"},      // exact URL
		{"HTTP://CDN.badfiles.test:80/payload.exe#x", "malicious"}, // normalised first
		{"http://cdn.badfiles.test/other", "malicious"},            // host
		{"http://other.badfiles.test/", "suspicious"},              // registered domain
		{"http://cdn.example.net/", "unrated"},                     // nothing known
		{"https://sub.spread.test/x", "suspicious"},                // registered domain
		{"https://bank.phish-two.test/login", "phishing"},          // PhishTank
		{"https://login.phish-one.test/elsewhere", "phishing"},     // OpenPhish, host
		{"https://unverified.test/login", "unrated"},               // not verified: not imported
		{"http://203.0.113.50/login", "suspicious"},                // DROP network
		{"http://[2001:db8:dead::1]/", "suspicious"},               // DROP IPv6
		{"https://www.example.com/", "unrated"},
	} {
		var rep struct {
			URL    string
			Rating string
		}
		if code := get(t, base, key, "/v1/web-reputation?url="+url.QueryEscape(tc.url), &rep); code != 200 || rep.Rating != tc.rating {
			t.Errorf("%s: %d %+v, want %s", tc.url, code, rep, tc.rating)
		}
	}
	var ins struct {
		Found   bool
		Details []hubapi.URLMatch
	}
	get(t, base, key, "/v1/web-inspection?url="+url.QueryEscape("http://cdn.badfiles.test/payload.exe"), &ins)
	if !ins.Found || ins.Details[0].Threat != "malware_download" || !strings.Contains(ins.Details[0].Tags, "AgentTesla") || ins.Details[0].FirstSeen == 0 {
		t.Fatalf("inspection: %+v", ins)
	}
	if code := get(t, base, key, "/v1/web-reputation?url=javascript:alert(1)", nil); code != 400 {
		t.Fatalf("bad url: %d", code)
	}
}

func TestFeedbackMakesCensus(t *testing.T) {
	base, key, st := startHub(t)
	key2, _ := st.AddKey(context.Background(), "appliance-2")
	h := "5b0c2cbcf0a1e0d8e6e5c66a0e29c9bd5d36a0aa0a3bde8c14f2a9f3b1c39d8e"
	for _, k := range []string{key, key, key2} {
		body := `{"records":[{"kind":"file","object":"` + h + `","verdict":"high"},{"kind":"domain","object":"Example.COM"}]}`
		req, _ := http.NewRequest("POST", base+"/v1/feedback", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+k)
		var out struct{ Accepted int }
		if code := do(t, req, &out); code != 200 || out.Accepted != 2 {
			t.Fatalf("feedback: %d %+v", code, out)
		}
	}
	var fc struct {
		Appliances, Sightings int
		Malware               map[string]string
	}
	get(t, base, key, "/v1/file-census?sha256="+h, &fc)
	if fc.Appliances != 2 || fc.Sightings != 3 || fc.Malware["signature"] != "AgentTesla" {
		t.Fatalf("file census: %+v", fc)
	}
	var dc struct{ Appliances, Sightings int }
	get(t, base, key, "/v1/domain-census?name=example.com", &dc)
	if dc.Appliances != 2 || dc.Sightings != 3 {
		t.Fatalf("domain census: %+v", dc)
	}
	req, _ := http.NewRequest("POST", base+"/v1/feedback", strings.NewReader(`{"records":[{"kind":"mood","object":"x"}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	if code := do(t, req, nil); code != 400 {
		t.Fatalf("bad record kind: %d", code)
	}
}

func TestMLScoreAndThreatConnect(t *testing.T) {
	base, key, _ := startHub(t)
	score := func(features string) (float64, bool) {
		req, _ := http.NewRequest("POST", base+"/v1/ml/score", strings.NewReader(`{"features":`+features+`}`))
		req.Header.Set("Authorization", "Bearer "+key)
		var out struct {
			Score     float64
			Malicious bool
		}
		if code := do(t, req, &out); code != 200 {
			t.Fatalf("score: %d", code)
		}
		return out.Score, out.Malicious
	}
	bad, isBad := score(`{"office_macros":1,"script_obfuscation":6,"size_log2":15,"entropy":7}`)
	good, isGood := score(`{"size_log2":12,"entropy":4.5}`)
	if !isBad || isGood || bad <= good {
		t.Fatalf("macro document %.3f (%v), text %.3f (%v)", bad, isBad, good, isGood)
	}
	var tc struct {
		Known bool
		Facts []string
	}
	get(t, base, key, "/v1/threat-connect/hash?indicator=5b0c2cbcf0a1e0d8e6e5c66a0e29c9bd5d36a0aa0a3bde8c14f2a9f3b1c39d8e&format=json", &tc)
	if !tc.Known || !strings.Contains(strings.Join(tc.Facts, " "), "AgentTesla") {
		t.Fatalf("threat connect: %+v", tc)
	}
	req, _ := http.NewRequest("GET", base+"/v1/threat-connect/url?indicator="+url.QueryEscape("http://cdn.badfiles.test/payload.exe"), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "urlhaus-csv") || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("detail page: %s", page)
	}
}

func TestBatchAnswersInOrder(t *testing.T) {
	base, key, _ := startHub(t)
	post := func(path, body string, out any) int {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		return do(t, req, out)
	}
	var rep struct{ Results []hubapi.ReputationAnswer }
	if code := post("/v1/web-reputation", `{"urls":["https://www.example.com/","http://cdn.badfiles.test/payload.exe"]}`, &rep); code != 200 {
		t.Fatalf("batch: %d", code)
	}
	if len(rep.Results) != 2 || rep.Results[0].Rating != "unrated" || rep.Results[1].Rating != "malicious" {
		t.Fatalf("batch answers: %+v", rep.Results)
	}
	var cs struct {
		Results []struct {
			KnownGood bool `json:"known_good"`
		}
	}
	post("/v1/csss", `{"sha256":["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","`+strings.Repeat("0", 64)+`"]}`, &cs)
	if len(cs.Results) != 2 || !cs.Results[0].KnownGood || cs.Results[1].KnownGood {
		t.Fatalf("csss batch: %+v", cs)
	}
	var e struct{ Error struct{ Message string } }
	if code := post("/v1/web-reputation", `{"urls":["http://ok.test/","javascript:x"]}`, &e); code != 400 || !strings.Contains(e.Error.Message, "item 1") {
		t.Fatalf("bad item: %d %+v", code, e)
	}
	if code := post("/v1/web-reputation", `{"urls":["http://ok.test/"]} trailing`, nil); code != 400 {
		t.Fatalf("data after the JSON body: %d", code)
	}
	many := `{"urls":[` + strings.Repeat(`"http://a.test/",`, 100) + `"http://a.test/"]}`
	if code := post("/v1/web-reputation", many, nil); code != 413 {
		t.Fatalf("101 items: %d", code)
	}
	// A body past an endpoint's size limit is 413 too, as docs/hub-api.md
	// says (it was 400).
	huge := `{"urls":["http://a.test/` + strings.Repeat("x", 5<<20) + `"]}`
	for _, path := range []string{"/v1/web-reputation", "/v1/lookup", "/v1/ml/score"} {
		if code := post(path, huge, &e); code != 413 {
			t.Errorf("%s with a 5 MiB body: %d %+v", path, code, e)
		}
	}
	if code := post("/v1/feedback", `{"records":[{"kind":"url","object":"`+strings.Repeat("x", 9<<20)+`"}]}`, nil); code != 413 {
		t.Errorf("feedback with a 9 MiB body: %d", code)
	}
}

func TestMLScoreBatch(t *testing.T) {
	base, key, _ := startHub(t)
	req, _ := http.NewRequest("POST", base+"/v1/ml/score",
		strings.NewReader(`{"items":[{"features":{"size_log2":12,"entropy":4.5}},{"features":{"office_macros":1,"script_obfuscation":6}}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	var out struct {
		Results []struct{ Malicious bool }
	}
	if code := do(t, req, &out); code != 200 || len(out.Results) != 2 || out.Results[0].Malicious || !out.Results[1].Malicious {
		t.Fatalf("%d %+v", code, out)
	}
	req, _ = http.NewRequest("POST", base+"/v1/ml/score", strings.NewReader(`{"features":{"x":1},"items":[]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	if code := do(t, req, nil); code != 400 {
		t.Fatalf("both forms at once: %d", code)
	}
}

// TestLookupAnswersEachPartAsItsEndpoint: POST /v1/lookup answers every
// service's part exactly as that service's own batch endpoint answers the
// same request; a bad part, or an unknown service, fails alone.
func TestLookupAnswersEachPartAsItsEndpoint(t *testing.T) {
	base, key, _ := startHub(t)
	post := func(path, body string) (int, map[string]json.RawMessage) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		var out map[string]json.RawMessage
		return do(t, req, &out), out
	}
	parts := map[string]string{
		"web-reputation": `{"urls":["https://www.example.com/","http://cdn.badfiles.test/payload.exe"]}`,
		"web-inspection": `{"urls":["http://cdn.badfiles.test/payload.exe","https://www.example.com/"]}`,
		"domain-census":  `{"names":["badfiles.test","192.0.2.7"]}`,
		"file-census":    `{"sha256":["` + strings.Repeat("a", 64) + `"]}`,
		"csss":           `{"sha256":["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","` + strings.Repeat("0", 64) + `"]}`,
		"ml/score":       `{"items":[{"features":{"size_log2":12,"entropy":4.5}},{"features":{"office_macros":1,"script_obfuscation":6}}]}`,
	}
	var all []string
	for path, body := range parts {
		all = append(all, fmt.Sprintf("%q:%s", strings.TrimSuffix(path, "/score"), body))
	}
	all = append(all, `"nonsense":{"x":[]}`, `"web-reputation-bad":{}`)
	code, joint := post("/v1/lookup", "{"+strings.Join(all, ",")+"}")
	if code != 200 {
		t.Fatalf("lookup: %d %s", code, joint)
	}
	for path, body := range parts {
		code, alone := post("/v1/"+path, body)
		if code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		want, _ := json.Marshal(alone)
		got := joint[strings.TrimSuffix(path, "/score")]
		var g map[string]json.RawMessage
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s part: %s", path, got)
		}
		if g2, _ := json.Marshal(g); string(g2) != string(want) {
			t.Errorf("%s: joint part %s, alone %s", path, g2, want)
		}
	}
	if !strings.Contains(string(joint["nonsense"]), `"unknown_service"`) || !strings.Contains(string(joint["web-reputation-bad"]), `"unknown_service"`) {
		t.Errorf("unknown services: %s %s", joint["nonsense"], joint["web-reputation-bad"])
	}
	// A bad item fails its part only.
	code, joint = post("/v1/lookup", `{"web-reputation":{"urls":["http://ok.test/","javascript:x"]},"csss":{"sha256":["`+strings.Repeat("0", 64)+`"]}}`)
	if code != 200 || !strings.Contains(string(joint["web-reputation"]), `"item 1`) || !strings.Contains(string(joint["csss"]), `"results"`) {
		t.Fatalf("bad item: %d %s", code, joint)
	}
	for _, bad := range []string{`{}`, `[]`, `garbage`, `{"csss":{"sha256":[]}} x`, `{"csss":{"sha256":[]}}{}`} {
		if code, _ := post("/v1/lookup", bad); code != 400 {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
}

// TestHubDataIsPrivate: the hub's database (and its WAL) is created 0600
// whatever the umask (it was world-readable: the appliances' keys and
// their Smart Feedback are in it), and an existing data directory or
// database with wider permissions is tightened (0750, 0600).
func TestHubDataIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hub")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hub.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Join(dir, "hub.db"), 0o644)
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.AddKey(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o750, filepath.Join(dir, "hub.db"): 0o600, filepath.Join(dir, "hub.db-wal"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s: %o, want at most %o", path, got, want)
		}
	}
}

// TestPublicPage: the page a browser opens through an appliance's signed
// link, with no key; expired, forged and over-long links are refused.
func TestPublicPage(t *testing.T) {
	base, key, _ := startHub(t)
	bad := "http://cdn.badfiles.test/payload.exe"
	get := func(link string) (int, string) {
		t.Helper()
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	now := time.Now()
	link := hubapi.PageLink(base, key, "url", bad, now.Add(time.Hour))
	if strings.Contains(link, key) {
		t.Fatal("the link carries the key")
	}
	if code, body := get(link); code != 200 || !strings.Contains(body, "malware_download") || !strings.Contains(body, "opens until") {
		t.Fatalf("signed link: %d %s", code, body)
	}
	if code, body := get(hubapi.PageLink(base, key, "url", bad, now.Add(-time.Minute))); code != http.StatusGone || !strings.Contains(body, "expired") {
		t.Fatalf("expired link: %d %s", code, body)
	}
	if code, _ := get(hubapi.PageLink(base, "mih_not-a-key", "url", bad, now.Add(time.Hour))); code != http.StatusForbidden {
		t.Fatalf("a link signed with an unknown key: %d", code)
	}
	if code, _ := get(strings.Replace(link, "payload.exe", "other.exe", 1)); code != http.StatusForbidden {
		t.Fatalf("a link with another indicator: %d", code)
	}
	if code, _ := get(hubapi.PageLink(base, key, "url", bad, now.Add(60*24*time.Hour))); code != http.StatusForbidden {
		t.Fatalf("a link valid for 60 days: %d", code)
	}
	if code, _ := get(base + hubapi.PathPage + "url?indicator=x"); code != http.StatusBadRequest {
		t.Fatalf("a link without its signature: %d", code)
	}
	// The API itself still wants the key.
	if code, _ := get(base + hubapi.PathThreatConnect + "url?indicator=" + bad); code != http.StatusUnauthorized {
		t.Fatalf("the API without a key: %d", code)
	}
}

// TestInstallModel: the hub's ML model from a signed ml-model bundle; an
// older version, another kind, an untrusted key and a model that is not
// one are refused, and the hub scores with the new model from its start.
func TestInstallModel(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "k")
	if _, err := signed.GenerateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	priv, _ := signed.ReadPrivate(keyFile)
	pubs, _ := signed.ReadPublic(keyFile + ".pub")
	bundle := func(kind string, v uint64, model string) []byte {
		src := t.TempDir()
		os.WriteFile(filepath.Join(src, "model.json"), []byte(model), 0o644)
		var b bytes.Buffer
		if _, err := signed.Sign(priv, signed.SignOptions{Kind: kind, Version: v, Lifetime: time.Hour}, src, &b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	good := `{"version": "bundle-7", "trained_on": "test", "samples": 2, "bias": -1, "weights": {"office_macros": 2}, "mean": {}, "std": {}, "threshold": 0.5}`
	m, v, err := InstallModel(dir, pubs, bytes.NewReader(bundle(ModelKind, 7, good)), time.Now())
	if err != nil || m.Version != "bundle-7" || v != 7 {
		t.Fatalf("install: %+v %d %v", m, v, err)
	}
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"older":     {bundle(ModelKind, 7, good), "not newer than 7"},
		"kind":      {bundle("clamav", 8, good), "not ml-model"},
		"not model": {bundle(ModelKind, 9, `{"version": "x"}`), "no weights"},
	} {
		if _, _, err := InstallModel(dir, pubs, bytes.NewReader(c.b), time.Now()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	if _, _, err := InstallModel(dir, nil, bytes.NewReader(bundle(ModelKind, 10, good)), time.Now()); err == nil {
		t.Error("installed with no trusted key")
	}
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := NewServer(st, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || srv.model.Version != "bundle-7" {
		t.Fatalf("the hub's model after install: %v %v", srv.model, err)
	}
}
