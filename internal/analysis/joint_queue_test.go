package analysis

import (
	"context"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/services"
)

// TestJointQueueSurvivesAPanic: a request that panics (here: a Cloud
// without a hub) answers its messages with the error and leaves the queue
// usable: the next message's request is sent, not queued for ever.
func TestJointQueueSurvivesAPanic(t *testing.T) {
	q := NewJointQueue()
	cl := services.New(services.Config{Name: services.CSSS, Enabled: true, Configured: true, Deadline: time.Second})
	ask := func() *jointMessage {
		p := &jointPart{keys: []string{"k"}, done: make(chan struct{})}
		return &jointMessage{clients: []*services.Client{cl}, parts: map[string]*jointPart{services.CSSS: p},
			deadline: time.Second, expires: time.Now().Add(time.Second)}
	}
	for i := 0; i < 2; i++ {
		a := ask()
		q.enqueue(context.Background(), Cloud{}, a) // Hub nil: sendJoint panics
		select {
		case <-a.parts[services.CSSS].done:
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d: no answer: the queue is stuck", i+1)
		}
		if err := a.parts[services.CSSS].err; err == nil || !strings.Contains(err.Error(), "panicked") {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
}
