package analysis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/mlfeatures"
	"mailinspector/internal/services"
)

// The per-object hub services of a message (known-good, file census, ML,
// web reputation, web inspection, domain census) are asked in one round
// trip, POST /v1/lookup, instead of one request each: with the hub on
// loopback, the requests themselves cost more than the answers (measured:
// docs/performance.md). JointLookup, in the pipeline around the group of
// those stages, prepares and sends the request before any of them runs;
// each stage then takes its own part. Every
// service keeps its contract (services.Joint): its own breaker decides
// whether it goes in, its own counters, status and trail entry; services
// with different deadlines go in different requests, so none waits past
// its own. The requests of concurrent messages may leave together
// (joint_queue.go). A hub without /v1/lookup gets the requests of one
// service each, as before.

// jointServices are the services a joint request carries, in the order
// they are prepared.
var jointServices = []string{services.CSSS, services.FileCensus, services.ML, services.WebReputation,
	services.WebInspection, services.DomainCensus}

// JointLookup asks the hub, in one request, what the per-object services
// of the stages of Group want to know of the message, then runs Group. It
// has no trail entry of its own: each stage says what its part gave. A
// pipeline without it asks each service on its own.
type JointLookup struct {
	Cloud
	Group Concurrent
}

func (JointLookup) Name() string                                  { return "joint-lookup" }
func (JointLookup) Service() string                               { return "" }
func (JointLookup) Run(context.Context, *Message) (Result, error) { panic("run by Pipeline") }

// joint is a message's joint request, made by JointLookup before the
// stages that read it run.
type joint struct {
	parts map[string]*jointPart // by service; nil: no joint request
}

// jointPart is one service's share of a joint request.
type jointPart struct {
	keys  []string // objects asked, in order
	items []any    // for ml, the features of each key; nil for the others (the key is the item)
	done  chan struct{}
	// After done: the answers by key, or the service's error.
	results map[string]any // the service's answer type
	err     error
}

// part is service's share, nil when the joint request does not carry it.
func (j *joint) part(service string) *jointPart { return j.parts[service] }

// jointClient is client for the stages of jointServices: a service the
// message's joint request carries is used through it, even when the
// request already let it through its breaker (as the half-open probe, say)
// and its own check would now find it busy.
func (c Cloud) jointClient(ctx context.Context, m *Message, service string) (*services.Client, error) {
	if m.joint.part(service) != nil {
		return c.Services.Get(service), nil
	}
	return c.client(service)
}

// prepareJoint builds the message's joint request(s) and hands them to the
// queue: one per distinct deadline among the services that can be asked
// and have something to ask that the cache does not answer. The services
// go through their breakers when the request is sent.
func (c Cloud) prepareJoint(ctx context.Context, m *Message) {
	if c.Hub == nil || !c.Hub.JointOK() || m.Extract == nil {
		return
	}
	var usable []*services.Client
	for _, name := range jointServices {
		if cl := c.Services.Get(name); cl != nil && cl.Usable() == nil {
			usable = append(usable, cl)
		}
	}
	if len(usable) == 0 {
		return // not configured, or every breaker open: each stage skips alone
	}
	files, _ := messageFiles(m)
	// Files the cache already knows good skip the deeper checks, as
	// they would after the known-good stage.
	deeper := files
	if cl := c.Services.Get(services.CSSS); cl != nil {
		deeper = slices.DeleteFunc(slices.Clone(files), func(f fileObject) bool {
			a, ok := services.Peek[hubapi.KnownGoodAnswer](cl, f.SHA256)
			return ok && a.KnownGood
		})
	}
	urls, _ := messageURLs(m)
	names, _ := messageNames(m)
	uncached := func(cl *services.Client, keys []string) []string {
		var out []string
		for _, k := range keys {
			if !services.Cached(cl, k) && !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
		return out
	}
	parts := map[string]*jointPart{}
	groups := map[time.Duration][]*services.Client{}
	for _, cl := range usable {
		p := &jointPart{done: make(chan struct{})}
		switch cl.Name() {
		case services.CSSS:
			p.keys = uncached(cl, fileKeys(files))
		case services.FileCensus:
			p.keys = uncached(cl, fileKeys(deeper))
		case services.WebReputation, services.WebInspection:
			p.keys = uncached(cl, urlKeys(urls))
		case services.DomainCensus:
			keys := make([]string, len(names))
			for i, n := range names {
				keys[i] = n.name
			}
			p.keys = uncached(cl, keys)
		case services.ML:
			var err error
			if p.keys, p.items, err = c.mlRequest(m, deeper, cl); err != nil {
				// The stage reads the attachments again and says so.
				continue
			}
		}
		if len(p.keys) == 0 {
			continue
		}
		parts[cl.Name()] = p
		groups[cl.Deadline()] = append(groups[cl.Deadline()], cl)
	}
	m.joint.parts = parts
	// The requests outlive the pipeline step that prepared them (the
	// stages wait on their parts), bounded by their deadlines.
	ctx = context.WithoutCancel(ctx)
	for deadline, cs := range groups {
		ask := &jointMessage{clients: cs, parts: parts, deadline: deadline, expires: time.Now().Add(deadline)}
		if c.Joints == nil {
			go sendRecovered(ctx, c, []*jointMessage{ask})
			continue
		}
		c.Joints.enqueue(ctx, c, ask)
	}
}

// mlRequest reads the features of the attachments whose score the cache
// does not hold (ML's own requests use it too, with an older hub).
func (c Cloud) mlRequest(m *Message, files []fileObject, cl *services.Client) ([]string, []any, error) {
	want := map[int]bool{}
	var asked []fileObject
	for _, f := range files {
		if f.Part >= 0 && !services.Cached(cl, f.SHA256) && !want[f.Part] {
			want[f.Part] = true
			asked = append(asked, f)
		}
	}
	if len(asked) == 0 {
		return nil, nil, nil
	}
	vecs := map[int]mlfeatures.Vector{}
	if err := mlVectors(m, c.Limits, want, vecs); err != nil {
		return nil, nil, err
	}
	keys := make([]string, len(asked))
	items := make([]any, len(asked))
	for i, f := range asked {
		keys[i], items[i] = f.SHA256, hubapi.MLItem{Features: vecs[f.Part]}
	}
	return keys, items, nil
}

// partAnswers lines a service's part of the joint answer up with the keys
// asked.
func partAnswers[T any](p *hubapi.Part[T], keys []string) (map[string]any, error) {
	switch {
	case p.Error != nil:
		return nil, fmt.Errorf("hub: %s (%s)", p.Error.Message, p.Error.Code)
	case p.Results == nil:
		return nil, errors.New("hub answered without this service's part")
	case len(p.Results) != len(keys):
		return nil, fmt.Errorf("hub answered %d results for %d items", len(p.Results), len(keys))
	}
	out := make(map[string]any, len(keys))
	for i, k := range keys {
		out[k] = p.Results[i]
	}
	return out, nil
}

// jointPartOf is service's part of the answer.
func jointPartOf(r *hubapi.JointAnswer, service string, keys []string) (map[string]any, error) {
	switch service {
	case services.CSSS:
		return partAnswers(&r.KnownGood, keys)
	case services.FileCensus:
		return partAnswers(&r.FileCensus, keys)
	case services.ML:
		return partAnswers(&r.ML, keys)
	case services.WebReputation:
		return partAnswers(&r.WebReputation, keys)
	case services.WebInspection:
		return partAnswers(&r.WebInspection, keys)
	case services.DomainCensus:
		return partAnswers(&r.DomainCensus, keys)
	}
	return nil, fmt.Errorf("%s is not asked in joint requests", service)
}

// sendJoint asks the hub the questions of asks (one message each, all of
// one deadline) in one request. Each service goes through its breaker once
// for the request; the answer is handed to every ask by key.
func (c Cloud) sendJoint(ctx context.Context, asks []*jointMessage) {
	now := time.Now()
	var live []*jointMessage
	for _, a := range asks {
		if now.Before(a.expires) {
			live = append(live, a)
			continue
		}
		// It waited its whole deadline behind the request before it:
		// not sent, and counted as each service's failed call, as if it
		// had been asked alone.
		err := &services.TimeoutError{Wait: a.deadline}
		for _, cl := range a.clients {
			cl.Failed(err)
		}
		a.fail(err)
	}
	if len(live) == 0 {
		return
	}
	// The union of the questions, service by service, and the clients
	// that take part (each admitted once).
	type union struct {
		keys  []string
		items []any
		seen  map[string]bool
	}
	unions := map[string]*union{}
	var cs []*services.Client
	refused := map[string]error{}
	for _, a := range live {
		for _, cl := range a.clients {
			name := cl.Name()
			if _, ok := unions[name]; !ok {
				if _, ok := refused[name]; ok {
					continue
				}
				if err := cl.Admit(); err != nil {
					refused[name] = err
					continue
				}
				unions[name] = &union{seen: map[string]bool{}}
				cs = append(cs, cl)
			}
			u, p := unions[name], a.parts[name]
			for i, k := range p.keys {
				if u.seen[k] {
					continue
				}
				u.seen[k] = true
				u.keys = append(u.keys, k)
				if p.items != nil {
					u.items = append(u.items, p.items[i])
				}
			}
		}
	}
	answers := map[string]map[string]any{}
	outcome := map[*services.Client]error{}
	if len(cs) > 0 {
		// No ask waits past its own deadline: the request has what is
		// left of the oldest one's.
		rctx, cancel := context.WithDeadline(ctx, live[0].expires)
		defer cancel()
		asks := map[*services.Client]int{}
		for _, a := range live {
			for _, cl := range a.clients {
				asks[cl]++
			}
		}
		outcome = services.Joint(rctx, cs, asks, func(ctx context.Context) (map[*services.Client]error, error) {
			body := make(hubapi.JointRequest, len(cs))
			for _, cl := range cs {
				u := unions[cl.Name()]
				switch cl.Name() {
				case services.CSSS, services.FileCensus:
					body[cl.Name()] = map[string][]string{hubapi.FieldHashes: u.keys}
				case services.WebReputation, services.WebInspection:
					body[cl.Name()] = map[string][]string{hubapi.FieldURLs: u.keys}
				case services.DomainCensus:
					body[cl.Name()] = map[string][]string{hubapi.FieldNames: u.keys}
				case services.ML:
					body[cl.Name()] = map[string][]any{"items": u.items}
				}
			}
			var ans hubapi.JointAnswer
			if err := c.Hub.Post(ctx, hubapi.PathLookup, body, &ans); err != nil {
				var se *services.StatusError
				if errors.As(err, &se) && se.Code == http.StatusNotFound {
					c.Hub.SetNoJoint()
					return nil, services.ErrJointUnsupported
				}
				return nil, err
			}
			per := map[*services.Client]error{}
			for _, cl := range cs {
				answers[cl.Name()], per[cl] = jointPartOf(&ans, cl.Name(), unions[cl.Name()].keys)
			}
			return per, nil
		})
	}
	byName := map[string]error{}
	for cl, err := range outcome {
		var te *services.TimeoutError
		if errors.As(err, &te) {
			// The request had what was left of the oldest message's
			// deadline; each message waited its whole deadline in all.
			err = &services.TimeoutError{Wait: live[0].deadline}
		}
		byName[cl.Name()] = err
	}
	for name, err := range refused {
		byName[name] = err
	}
	for _, a := range live {
		for _, cl := range a.clients {
			p := a.parts[cl.Name()]
			if p.err = byName[cl.Name()]; p.err == nil {
				p.results = answers[cl.Name()]
			}
			close(p.done)
		}
	}
}

// jointAsk gives a stage its service's answers for keys: from the joint
// request, from the cache for what the request did not carry, and from own
// (the service's own request) for the rest — all of them when the joint
// request does not carry the service or the hub does not know it.
func jointAsk[T any](ctx context.Context, m *Message, cl *services.Client, keys []string, found func(T) bool,
	own func(keys []string) (map[string]T, map[string]error)) (map[string]T, map[string]error) {
	p := m.joint.part(cl.Name())
	if p == nil {
		return own(keys)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		errs := map[string]error{}
		for _, k := range keys {
			errs[k] = ctx.Err()
		}
		return nil, errs
	}
	if errors.Is(p.err, services.ErrJointUnsupported) {
		return own(keys)
	}
	out, errs := map[string]T{}, map[string]error{}
	var rest []string
	for _, k := range keys {
		if a, ok := p.results[k]; ok {
			v, ok := a.(T)
			if !ok { // a stage asked with another answer type than hubapi.JointAnswer has
				errs[k] = fmt.Errorf("internal: %s answer is %T", cl.Name(), a)
				continue
			}
			out[k] = v
			services.Remember(cl, k, v, found(v))
			continue
		}
		if v, ok := services.Lookup[T](cl, k); ok {
			out[k] = v
			continue
		}
		if p.err != nil {
			// Not asked again alone: the service just failed once for
			// this message, and its deadline is spent.
			errs[k] = p.err
			continue
		}
		rest = append(rest, k) // its cached answer expired since the request was made
	}
	if len(rest) > 0 {
		o, e := own(rest)
		for k, v := range o {
			out[k] = v
		}
		for k, err := range e {
			errs[k] = err
		}
	}
	return out, errs
}
