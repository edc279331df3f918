package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"mailinspector/internal/message"
	"mailinspector/internal/mlfeatures"
	"mailinspector/internal/netguard"
	"mailinspector/internal/services"
)

// The hub-backed stages. Each names its service; every call goes through
// the service's client (deadline, breaker, cache), the calls of one
// message run concurrently, at most fanOutLimit at a time, and a call that
// fails leaves the rest standing: the stage is then "skipped" with the
// reason, keeping what the calls that did answer found.

// fanOutLimit bounds the concurrent calls one stage makes for one message.
const fanOutLimit = 8

// maxObjects bounds the URLs or files one stage asks about per message; the
// rest are counted in the trail.
const maxObjects = 64

// Cloud is what the hub stages share.
type Cloud struct {
	Hub      *services.Hub
	Services *services.Registry
	// Limits bound reading attachments back for ML's features.
	Limits message.Limits
	// Joints groups the joint requests of concurrent messages
	// (joint_queue.go); nil sends each message's alone.
	Joints *JointQueue
}

// hubBatch is how many objects one request to the hub carries (the hub
// takes up to 100).
const hubBatch = 100

// askBatch asks the hub about keys in one round trip (cache first), through
// the service's contract. The hub answers {"results": [...]} in the order
// asked.
func askBatch[T any](ctx context.Context, cl *services.Client, hub *services.Hub, path, field string, keys []string,
	found func(T) bool) (map[string]T, map[string]error) {
	return services.CallBatch(ctx, cl, keys, hubBatch, func(ctx context.Context, ks []string) (map[string]T, error) {
		var ans struct {
			Results []T `json:"results"`
		}
		if err := hub.Post(ctx, path, map[string][]string{field: ks}, &ans); err != nil {
			return nil, err
		}
		if len(ans.Results) != len(ks) {
			return nil, fmt.Errorf("hub answered %d results for %d items", len(ans.Results), len(ks))
		}
		out := make(map[string]T, len(ks))
		for i, k := range ks {
			out[k] = ans.Results[i]
		}
		return out, nil
	}, found)
}

// errsOf lines up a batch's per-key errors with keys, for settle.
func errsOf(keys []string, failed map[string]error) []error {
	errs := make([]error, len(keys))
	for i, k := range keys {
		errs[i] = failed[k]
	}
	return errs
}

func fileKeys(files []fileObject) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.SHA256
	}
	return out
}

func urlKeys(urls []message.URL) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = u.URL
	}
	return out
}

// fanOut runs fn for 0..n-1 concurrently, bounded, and returns the first
// error of each call.
func fanOut(ctx context.Context, n int, fn func(ctx context.Context, i int) error) []error {
	errs := make([]error, n)
	sem := make(chan struct{}, fanOutLimit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn(ctx, i)
		}(i)
	}
	wg.Wait()
	return errs
}

// settle turns per-object errors into the stage's outcome: all failed is
// ErrUnavailable; some failed is a "skipped" result that keeps what was
// found; none failed is the result as it is.
func settle(res Result, what string, errs []error, extra int) (Result, error) {
	failed, first := 0, error(nil)
	for _, err := range errs {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if extra > 0 {
		res.Detail = strings.TrimPrefix(res.Detail+fmt.Sprintf("; %d more %s not asked (limit %d)", extra, what, maxObjects), "; ")
	}
	switch {
	case failed == 0:
		return res, nil
	case failed == len(errs):
		return Result{}, fmt.Errorf("%w: %v", ErrUnavailable, first)
	}
	res.Outcome = OutcomeSkipped
	res.Detail = strings.TrimPrefix(fmt.Sprintf("%s; %d of %d %s not checked: %v", res.Detail, failed, len(errs), what, first), "; ")
	return res, nil
}

func (c Cloud) client(name string) (*services.Client, error) {
	cl := c.Services.Get(name)
	if cl == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, services.ErrNotConfigured)
	}
	// Disabled, not configured or breaker open: skipped at once, at no
	// cost to the message.
	if err := cl.Usable(); err != nil {
		if errors.Is(err, services.ErrNotConfigured) {
			err = fmt.Errorf("%w (hub.url, hub.key)", err)
		}
		cl.Skip()
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return cl, nil
}

// asked memoises the objects the hub stages ask about: the joint request,
// several stages and the Smart Feedback records each want them, and taking
// the link hosts apart (url.Parse) was a visible part of a message's cost
// with the hub up. Computed once the extraction ran; read-only after.
type asked struct {
	urlsOnce, namesOnce sync.Once
	urls                []message.URL
	urlsExtra           int
	names               []namedObject
	namesExtra          int
}

// messageURLs are the distinct URLs of the message, at most maxObjects.
// The slice is shared: callers must not change it.
func messageURLs(m *Message) ([]message.URL, int) {
	if m.Extract == nil {
		return nil, 0
	}
	m.asked.urlsOnce.Do(func() { m.asked.urls, m.asked.urlsExtra = distinctURLs(m) })
	return m.asked.urls, m.asked.urlsExtra
}

func distinctURLs(m *Message) (urls []message.URL, extra int) {
	seen := map[string]bool{}
	for _, u := range m.Extract.URLs {
		if seen[u.URL] {
			continue
		}
		seen[u.URL] = true
		if len(urls) == maxObjects {
			extra++
			continue
		}
		urls = append(urls, u)
	}
	return urls, extra
}

// fileObject is an attachment or archive member to ask about.
type fileObject struct {
	SHA256, Where, TrueType, DeclaredType string
	Size                                  int64
	Part                                  int // index in Extract.Parts; -1 for archive members
}

// messageFiles are the distinct files of the message (attachments and
// archive members) not found known-good, at most maxObjects.
func messageFiles(m *Message) (files []fileObject, extra int) {
	if m.Extract == nil {
		return nil, 0
	}
	seen := map[string]bool{}
	add := func(f fileObject) {
		if f.SHA256 == "" || seen[f.SHA256] || m.KnownGood[f.SHA256] != "" {
			return
		}
		seen[f.SHA256] = true
		if len(files) == maxObjects {
			extra++
			return
		}
		files = append(files, f)
	}
	for i := range m.Extract.Parts {
		p := &m.Extract.Parts[i]
		if p.Attachment {
			add(fileObject{p.SHA256, partLocation(p), p.TrueType, p.DeclaredType, p.Size, i})
		}
	}
	for _, mb := range m.Members {
		add(fileObject{mb.Member.SHA256, partLocation(&mb.Part) + ": " + mb.Member.Path, mb.Member.TrueType, "", mb.Member.Size, -1})
	}
	return files, extra
}

// KnownGood asks which files are known good (Certified Safe Software): those
// skip file census and ML; the pattern engine still scans them.
type KnownGood struct{ Cloud }

func (KnownGood) Name() string    { return "known-good" }
func (KnownGood) Service() string { return services.CSSS }

func (s KnownGood) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.jointClient(ctx, m, services.CSSS)
	if err != nil {
		return Result{}, err
	}
	files, extra := messageFiles(m)
	if len(files) == 0 {
		return Result{Detail: "no files"}, nil
	}
	found := func(a csssAnswer) bool { return a.KnownGood }
	ans, failed := jointAsk(ctx, m, cl, fileKeys(files), found, func(keys []string) (map[string]csssAnswer, map[string]error) {
		return askBatch(ctx, cl, s.Hub, "/v1/csss", "sha256", keys, found)
	})
	var good []string
	for _, f := range files {
		if a, ok := ans[f.SHA256]; ok && a.KnownGood {
			if m.KnownGood == nil {
				m.KnownGood = map[string]string{}
			}
			n := orName(a.Name, f.Where)
			m.KnownGood[f.SHA256] = n
			good = append(good, n)
		}
	}
	res := Result{Detail: fmt.Sprintf("%d files asked, %d known good", len(files), len(good))}
	if len(good) > 0 {
		res.Detail += ": " + strings.Join(good, ", ") + " (file census and ML skip them)"
	}
	return settle(res, "files", errsOf(fileKeys(files), failed), extra)
}

type csssAnswer struct {
	KnownGood bool   `json:"known_good"`
	Name      string `json:"name"`
}

func orName(name, where string) string {
	if name != "" {
		return name
	}
	return where
}

// FileCensus asks how common each file is across the community, and
// whether a feed knows it as malware.
type FileCensus struct{ Cloud }

func (FileCensus) Name() string    { return "file-census" }
func (FileCensus) Service() string { return services.FileCensus }

type censusAnswer struct {
	Appliances int               `json:"appliances"`
	Sightings  int               `json:"sightings"`
	AgeDays    int               `json:"age_days"`
	Malware    map[string]string `json:"malware"`
}

func (s FileCensus) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.jointClient(ctx, m, services.FileCensus)
	if err != nil {
		return Result{}, err
	}
	files, extra := messageFiles(m)
	if len(files) == 0 {
		return Result{Detail: "no files to ask about"}, nil
	}
	found := func(a censusAnswer) bool { return a.Sightings > 0 || a.Malware != nil }
	ans, failed := jointAsk(ctx, m, cl, fileKeys(files), found, func(keys []string) (map[string]censusAnswer, map[string]error) {
		return askBatch(ctx, cl, s.Hub, "/v1/file-census", "sha256", keys, found)
	})
	var res Result
	nrare := 0
	for _, f := range files {
		a, ok := ans[f.SHA256]
		if !ok {
			continue
		}
		if a.Malware != nil {
			res.Findings = append(res.Findings, Finding{Engine: "file-census", Threat: "malware", Risk: RiskHigh,
				Name: orName(a.Malware["signature"], "known malware"), Location: f.Where, Object: f.SHA256,
				Detail: "known to the hub's " + a.Malware["feed"] + " feed"})
		}
		if a.Sightings == 0 {
			nrare++
			if executables[f.TrueType] {
				res.Findings = append(res.Findings, Finding{Engine: "file-census", Threat: "suspicious file", Risk: RiskLow, Name: "rare-executable",
					Location: f.Where, Object: f.SHA256, Detail: "an executable no appliance of the community has seen before"})
			}
		}
	}
	res.Detail = fmt.Sprintf("%d files asked, %d never seen by the community", len(files), nrare)
	return settle(res, "files", errsOf(fileKeys(files), failed), extra)
}

// PredictiveML extracts static features of each attachment here and has the hub's
// model score them; only the features leave the appliance.
type PredictiveML struct{ Cloud }

func (PredictiveML) Name() string    { return "predictive-ml" }
func (PredictiveML) Service() string { return services.ML }

// mlPrefix is how much of a file the features look at.
const mlPrefix = 4 << 20

func (s PredictiveML) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.jointClient(ctx, m, services.ML)
	if err != nil {
		return Result{}, err
	}
	files, extra := messageFiles(m)
	var scored []fileObject
	for _, f := range files {
		if f.Part >= 0 {
			scored = append(scored, f)
		}
	}
	if len(scored) == 0 {
		return Result{Detail: "no attachments to score"}, nil
	}
	keys := fileKeys(scored)
	var readErr error
	ans, failed := jointAsk(ctx, m, cl, keys, func(mlAnswer) bool { return true }, func(keys []string) (map[string]mlAnswer, map[string]error) {
		a, f, err := s.score(ctx, m, cl, scored, keys)
		readErr = err
		return a, f
	})
	if readErr != nil {
		return Result{}, fmt.Errorf("reading attachments: %w", readErr)
	}
	var res Result
	for _, f := range scored {
		if a, ok := ans[f.SHA256]; ok && a.Malicious {
			res.Findings = append(res.Findings, Finding{Engine: "ml", Threat: "suspicious file", Risk: RiskMedium, Name: "ml-malicious",
				Location: f.Where, Object: f.SHA256, Detail: fmt.Sprintf("model %s scored %.2f (threshold %.2f)", a.Model, a.Score, a.Threshold)})
		}
	}
	res.Detail = fmt.Sprintf("%d attachments scored", len(scored))
	return settle(res, "attachments", errsOf(keys, failed), extra)
}

// score has the hub score the files of keys in requests of ML's own
// (cache first): the features of those the cache does not answer are read
// here, as the joint request reads them (mlRequest).
func (s PredictiveML) score(ctx context.Context, m *Message, cl *services.Client, files []fileObject, keys []string) (map[string]mlAnswer, map[string]error, error) {
	asked := slices.DeleteFunc(slices.Clone(files), func(f fileObject) bool { return !slices.Contains(keys, f.SHA256) })
	read, items, err := s.mlRequest(m, asked, cl)
	if err != nil {
		return nil, nil, err
	}
	itemOf := make(map[string]any, len(read))
	for i, k := range read {
		itemOf[k] = items[i]
	}
	ans, failed := services.CallBatch(ctx, cl, keys, hubBatch, func(ctx context.Context, ks []string) (map[string]mlAnswer, error) {
		items := make([]any, len(ks))
		for i, k := range ks {
			it, ok := itemOf[k]
			if !ok {
				// Its cached score expired between the look and the
				// call (microseconds): the file was not read.
				return nil, errors.New("cached score expired before use; attachments not scored")
			}
			items[i] = it
		}
		var a struct {
			Results []mlAnswer `json:"results"`
		}
		if err := s.Hub.Post(ctx, "/v1/ml/score", map[string]any{"items": items}, &a); err != nil {
			return nil, err
		}
		if len(a.Results) != len(ks) {
			return nil, fmt.Errorf("hub answered %d scores for %d files", len(a.Results), len(ks))
		}
		out := make(map[string]mlAnswer, len(ks))
		for i, k := range ks {
			out[k] = a.Results[i]
		}
		return out, nil
	}, func(mlAnswer) bool { return true })
	return ans, failed, nil
}

// mlVectors extracts the features of the parts in want (by index) into
// vecs.
func mlVectors(m *Message, lim message.Limits, want map[int]bool, vecs map[int]mlfeatures.Vector) error {
	i := -1
	return eachPart(m, lim, func(p *message.Part, content io.Reader) error {
		i++
		if !want[i] {
			return nil
		}
		b, err := mlContent(content)
		if err != nil {
			return err
		}
		vecs[i] = mlfeatures.Extract(b, p.Size, p.TrueType, p.DeclaredType)
		return nil
	})
}

// mlContent is the first mlPrefix bytes of a part for the feature scan. A
// part kept in memory is scanned where it lies: copying every attachment
// (and growing the copy by doubling) cost about a third of what the ML
// step added per message under the harness, counting the garbage
// collector's share. Extract only reads it.
func mlContent(content io.Reader) ([]byte, error) {
	if m, ok := content.(interface{ Bytes() []byte }); ok {
		b := m.Bytes()
		return b[:min(len(b), mlPrefix):min(len(b), mlPrefix)], nil
	}
	return io.ReadAll(io.LimitReader(content, mlPrefix))
}

type mlAnswer struct {
	Score     float64 `json:"score"`
	Malicious bool    `json:"malicious"`
	Threshold float64 `json:"threshold"`
	Model     string  `json:"model"`
}

// WebReputation rates each URL (exact URL, host, registered domain).
type WebReputation struct{ Cloud }

func (WebReputation) Name() string    { return "web-reputation" }
func (WebReputation) Service() string { return services.WebReputation }

type reputationAnswer struct {
	Rating string `json:"rating"`
	Score  int    `json:"score"`
}

func (s WebReputation) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.jointClient(ctx, m, services.WebReputation)
	if err != nil {
		return Result{}, err
	}
	urls, extra := messageURLs(m)
	if len(urls) == 0 {
		return Result{Detail: "no URLs"}, nil
	}
	found := func(a reputationAnswer) bool { return a.Rating != "unrated" }
	ans, failed := jointAsk(ctx, m, cl, urlKeys(urls), found, func(keys []string) (map[string]reputationAnswer, map[string]error) {
		return askBatch(ctx, cl, s.Hub, "/v1/web-reputation", "urls", keys, found)
	})
	var res Result
	unrated := 0
	for _, u := range urls {
		a, ok := ans[u.URL]
		if !ok {
			continue
		}
		f := Finding{Engine: "web-reputation", Location: u.Where, Object: u.URL, Detail: fmt.Sprintf("rated %s (score %d)", a.Rating, a.Score)}
		switch a.Rating {
		case "malicious":
			f.Threat, f.Risk, f.Name = "malicious URL", RiskHigh, "malicious-url"
		case "phishing":
			f.Threat, f.Risk, f.Name = "phishing", RiskHigh, "phishing-url"
		case "suspicious":
			f.Threat, f.Risk, f.Name = "suspicious URL", RiskMedium, "suspicious-url"
		default:
			unrated++
			continue
		}
		res.Findings = append(res.Findings, f)
	}
	res.Detail = fmt.Sprintf("%d URLs rated, %d unrated", len(urls), unrated)
	return settle(res, "URLs", errsOf(urlKeys(urls), failed), extra)
}

// WebInspection fetches threat details (category, threat name, first seen)
// of each URL from the hub.
type WebInspection struct{ Cloud }

func (WebInspection) Name() string    { return "web-inspection" }
func (WebInspection) Service() string { return services.WebInspection }

type inspectionAnswer struct {
	Found   bool `json:"found"`
	Details []struct {
		Feed      string `json:"feed"`
		Match     string `json:"match"`
		Threat    string `json:"threat"`
		Tags      string `json:"tags"`
		FirstSeen int64  `json:"first_seen"`
	} `json:"details"`
}

func (s WebInspection) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.jointClient(ctx, m, services.WebInspection)
	if err != nil {
		return Result{}, err
	}
	urls, extra := messageURLs(m)
	if len(urls) == 0 {
		return Result{Detail: "no URLs"}, nil
	}
	found := func(a inspectionAnswer) bool { return a.Found }
	ans, failed := jointAsk(ctx, m, cl, urlKeys(urls), found, func(keys []string) (map[string]inspectionAnswer, map[string]error) {
		return askBatch(ctx, cl, s.Hub, "/v1/web-inspection", "urls", keys, found)
	})
	var res Result
	for _, u := range urls {
		a, ok := ans[u.URL]
		if !ok || !a.Found || len(a.Details) == 0 {
			continue
		}
		d := a.Details[0]
		f := Finding{Engine: "web-inspection", Location: u.Where, Object: u.URL, Name: d.Threat,
			Detail: fmt.Sprintf("%s (%s match)", d.Feed, d.Match)}
		if d.Tags != "" {
			f.Detail += ", tags " + d.Tags
		}
		if d.FirstSeen > 0 {
			f.Detail += ", first seen " + time.Unix(d.FirstSeen, 0).UTC().Format("2006-01-02")
		}
		switch {
		case d.Match != "url" && d.Match != "host":
			f.Threat, f.Risk = "suspicious URL", RiskMedium
		case d.Threat == "phishing":
			f.Threat, f.Risk = "phishing", RiskHigh
		default:
			f.Threat, f.Risk = "malicious URL", RiskHigh
		}
		res.Findings = append(res.Findings, f)
	}
	res.Detail = fmt.Sprintf("%d URLs inspected, %d with threat details", len(urls), len(res.Findings))
	return settle(res, "URLs", errsOf(urlKeys(urls), failed), extra)
}

// DomainCensus asks how common and how old the domains and IPs of the
// message are: link hosts, the sender's domain, the relays in Received.
type DomainCensus struct{ Cloud }

func (DomainCensus) Name() string    { return "domain-census" }
func (DomainCensus) Service() string { return services.DomainCensus }

// newDomainDays is the age under which a domain the community has seen is
// "newly seen".
const newDomainDays = 2

func (s DomainCensus) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.jointClient(ctx, m, services.DomainCensus)
	if err != nil {
		return Result{}, err
	}
	names, extra := messageNames(m)
	if len(names) == 0 {
		return Result{Detail: "no domains or IPs"}, nil
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = n.name
	}
	found := func(a censusAnswer) bool { return a.Sightings > 0 }
	ans, failed := jointAsk(ctx, m, cl, keys, found, func(keys []string) (map[string]censusAnswer, map[string]error) {
		return askBatch(ctx, cl, s.Hub, "/v1/domain-census", "names", keys, found)
	})
	var res Result
	unseen := 0
	for _, n := range names {
		a, ok := ans[n.name]
		switch {
		case !ok:
		case a.Sightings == 0:
			unseen++
		case a.AgeDays < newDomainDays:
			res.Findings = append(res.Findings, Finding{Engine: "domain-census", Threat: "suspicious URL", Risk: RiskLow, Name: "newly-seen",
				Location: n.where, Object: n.name,
				Detail: fmt.Sprintf("first seen by the community %d days ago (%d appliances)", a.AgeDays, a.Appliances)})
		}
	}
	res.Detail = fmt.Sprintf("%d domains and IPs asked, %d never seen by the community", len(names), unseen)
	return settle(res, "names", errsOf(keys, failed), extra)
}

type namedObject struct{ name, where string }

// messageNames are the distinct link hosts, the sender's domain and the
// public relay IPs of the message. The slice is shared once the extraction
// ran: callers must not change it.
func messageNames(m *Message) ([]namedObject, int) {
	if m.Extract == nil {
		return distinctNames(m)
	}
	m.asked.namesOnce.Do(func() { m.asked.names, m.asked.namesExtra = distinctNames(m) })
	return m.asked.names, m.asked.namesExtra
}

func distinctNames(m *Message) ([]namedObject, int) {
	seen := map[string]bool{}
	var out []namedObject
	extra := 0
	add := func(name, where string) {
		name = strings.ToLower(strings.Trim(name, "[]."))
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		if len(out) == maxObjects {
			extra++
			return
		}
		out = append(out, namedObject{name, where})
	}
	if _, d, ok := strings.Cut(m.Meta.From, "@"); ok {
		add(d, "envelope sender")
	}
	urls, _ := messageURLs(m)
	for _, u := range urls {
		if pu, err := url.Parse(u.URL); err == nil {
			add(pu.Hostname(), u.Where)
		}
	}
	if m.Header != nil {
		for _, ip := range receivedIPs(m.Header["Received"]) {
			if netguard.Reputable(ip) {
				add(ip.String(), "Received")
			}
		}
	}
	return out, extra
}

// ThreatConnect links each detection that names an indicator (a file hash,
// a URL, an IP) to its detail page on the hub, and says what the hub knows.
// Out of reach, the step is skipped: the detections stand, without links.
type ThreatConnect struct{ Cloud }

func (ThreatConnect) Name() string    { return "threat-connect" }
func (ThreatConnect) Service() string { return services.ThreatConnect }

type connectAnswer struct {
	Known bool     `json:"known"`
	Facts []string `json:"facts"`
}

func (s ThreatConnect) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.client(services.ThreatConnect)
	if err != nil {
		return Result{}, err
	}
	type indicator struct{ kind, value string }
	var inds []indicator
	seen := map[string]bool{}
	for _, f := range m.Findings {
		if f.Object == "" || seen[f.Object] || Rank(f.Risk) < Rank(RiskLow) {
			continue
		}
		seen[f.Object] = true
		kind := "domain"
		switch {
		case strings.Contains(f.Object, "://"):
			kind = "url"
		case len(f.Object) == 64 && strings.Trim(f.Object, "0123456789abcdef") == "":
			kind = "hash"
		case isAddr(f.Object):
			kind = "ip"
		}
		if len(inds) < 16 {
			inds = append(inds, indicator{kind, f.Object})
		}
	}
	if len(inds) == 0 {
		return Result{Detail: "no detections to link"}, nil
	}
	links := make([]string, len(inds))
	errs := fanOut(ctx, len(inds), func(ctx context.Context, i int) error {
		in := inds[i]
		q := url.Values{"indicator": {in.value}}
		a, err := services.Call(ctx, cl, in.kind+" "+in.value, func(ctx context.Context) (connectAnswer, bool, error) {
			var a connectAnswer
			qj := url.Values{"indicator": {in.value}, "format": {"json"}}
			err := s.Hub.Get(ctx, "/v1/threat-connect/"+in.kind, qj, &a)
			return a, a.Known, err
		})
		if err != nil {
			return err
		}
		links[i] = s.Hub.URL("/v1/threat-connect/"+in.kind, q)
		if a.Known {
			links[i] += " (" + strings.Join(a.Facts, "; ") + ")"
		}
		return nil
	})
	var ok []string
	for _, l := range links {
		if l != "" {
			ok = append(ok, l)
		}
	}
	return settle(Result{Detail: "details: " + strings.Join(ok, " ")}, "indicators", errs, 0)
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
