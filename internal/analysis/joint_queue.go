package analysis

import (
	"context"
	"fmt"
	"sync"
	"time"

	"mailinspector/internal/services"
)

// Joint requests of concurrent messages go out together, the way a
// database commits a group: a message's request leaves at once when none
// of its deadline is in flight; the ones that come while one is in flight
// wait for it to come back, and then leave as one request. With the box
// busy, three joint requests in four were sent while another was in flight
// (bench harness, hub on loopback); each request costs the hub and the
// appliance a wake-up and an HTTP exchange whatever it carries. Under
// light load nothing waits.

// jointMessage is one message's joint request for the services of one
// deadline.
type jointMessage struct {
	clients  []*services.Client
	parts    map[string]*jointPart
	deadline time.Duration
	expires  time.Time // no later than this is it worth sending
}

// fail ends every part of the ask with err.
func (a *jointMessage) fail(err error) {
	for _, cl := range a.clients {
		p := a.parts[cl.Name()]
		p.err = err
		close(p.done)
	}
}

// Limits of one request: the hub takes at most hubBatch items per part;
// jointMaxAsks keeps a request (and its wait) bounded.
const jointMaxAsks = 16

// JointQueue groups the joint requests of concurrent messages. One per
// pipeline; safe for concurrent use.
type JointQueue struct {
	mu     sync.Mutex
	groups map[time.Duration]*jointGroup
}

type jointGroup struct {
	inflight bool
	queue    []*jointMessage
}

// NewJointQueue makes a queue.
func NewJointQueue() *JointQueue { return &JointQueue{groups: map[time.Duration]*jointGroup{}} }

// enqueue sends ask now when nothing of its deadline is in flight, or
// queues it for the request after the one in flight.
func (q *JointQueue) enqueue(ctx context.Context, c Cloud, ask *jointMessage) {
	q.mu.Lock()
	g := q.groups[ask.deadline]
	if g == nil {
		g = &jointGroup{}
		q.groups[ask.deadline] = g
	}
	if g.inflight {
		g.queue = append(g.queue, ask)
		q.mu.Unlock()
		return
	}
	g.inflight = true
	q.mu.Unlock()
	go q.run(ctx, c, g, []*jointMessage{ask})
}

// run sends batch, then whatever queued meanwhile, until the queue is
// empty.
func (q *JointQueue) run(ctx context.Context, c Cloud, g *jointGroup, batch []*jointMessage) {
	for {
		sendRecovered(ctx, c, batch)
		q.mu.Lock()
		if len(g.queue) == 0 {
			g.inflight = false
			q.mu.Unlock()
			return
		}
		n := fits(g.queue)
		batch = g.queue[:n:n]
		g.queue = append([]*jointMessage(nil), g.queue[n:]...)
		q.mu.Unlock()
	}
}

// sendRecovered sends one batch. A panic in it must not leave a queue's
// group in flight for ever (every later message would wait its deadline),
// nor kill the daemon: the batch's messages get the error instead.
func sendRecovered(ctx context.Context, c Cloud, batch []*jointMessage) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("joint request panicked: %v", r)
			for _, a := range batch {
				for _, cl := range a.clients {
					p := a.parts[cl.Name()]
					select {
					case <-p.done: // already answered
					default:
						p.err = err
						close(p.done)
					}
				}
			}
		}
	}()
	c.sendJoint(ctx, batch)
}

// fits is how many of the queued asks (at least one) one request takes:
// at most jointMaxAsks, and no service with more than hubBatch items.
func fits(queue []*jointMessage) int {
	count := map[string]int{}
	for i, a := range queue {
		if i == jointMaxAsks {
			return i
		}
		for _, cl := range a.clients {
			if count[cl.Name()]+len(a.parts[cl.Name()].keys) > hubBatch && i > 0 {
				return i
			}
		}
		for _, cl := range a.clients {
			count[cl.Name()] += len(a.parts[cl.Name()].keys)
		}
	}
	return len(queue)
}
