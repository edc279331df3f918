package settings

import "testing"

// Smart Feedback is opt-in: nothing leaves the appliance unless the
// administrator asks.
func TestSmartFeedbackIsOptIn(t *testing.T) {
	s, err := Build(map[string]string{"hub.url": "https://hub.test", "hub.key": "k"})
	if err != nil {
		t.Fatal(err)
	}
	if s.ServiceFor("smart-feedback").Enabled {
		t.Fatal("smart-feedback is on by default")
	}
	if !s.ServiceFor("web-reputation").Enabled {
		t.Fatal("web-reputation is off by default")
	}
	if s.Feedback.ShareURLs || s.Feedback.OutboxMax != 1_000_000 {
		t.Fatalf("feedback defaults: %+v", s.Feedback)
	}
	s, err = Build(map[string]string{"services.smart-feedback.enabled": "true"})
	if err != nil || !s.ServiceFor("smart-feedback").Enabled {
		t.Fatalf("opting in: %v", err)
	}
}
