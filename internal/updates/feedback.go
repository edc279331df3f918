package updates

import (
	"context"
	"errors"
	"net/http"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/services"
	"mailinspector/internal/store"
)

// feedbackBatch is how many Smart Feedback records one flush sends at most.
const feedbackBatch = 1000

// FlushFeedback sends the queued Smart Feedback records to the hub, batch
// after batch, and deletes what the hub accepted. A failure leaves them
// queued for the next run of the schedule.
func (c *Checks) FlushFeedback() {
	// The bound holds whether the hub answers or not: during an outage
	// nothing is sent, and the outbox would only grow.
	var dropped int64
	if err := c.DB.Write(c.Ctx, func(tx *store.Tx) (err error) {
		dropped, err = store.TrimFeedback(tx, c.FeedbackMax)
		return err
	}); err != nil {
		c.Log.Error("smart feedback: trim outbox", "err", err)
	} else if dropped > 0 {
		c.FeedbackDropped.Add(dropped)
		c.Log.Warn("smart feedback: outbox full, oldest records dropped", "dropped", dropped, "kept", c.FeedbackMax)
	}
	cl := c.Services.Get(services.SmartFeedback)
	if cl.Usable() != nil {
		cl.Skip()
		return
	}
	ctx := c.Ctx
	for {
		recs, err := c.DB.FeedbackBatch(ctx, feedbackBatch)
		if err != nil || len(recs) == 0 {
			if err != nil {
				c.Log.Error("smart feedback: read outbox", "err", err)
			}
			return
		}
		var body hubapi.FeedbackRequest
		for _, r := range recs {
			body.Records = append(body.Records, hubapi.FeedbackRecord{Kind: r.Kind, Object: r.Object, Verdict: r.Verdict, At: r.At})
		}
		_, err = services.Call(ctx, cl, "", func(ctx context.Context) (int, bool, error) {
			var ans hubapi.FeedbackAnswer
			err := c.Hub.Post(ctx, hubapi.PathFeedback, body, &ans)
			return ans.Accepted, true, err
		})
		var se *services.StatusError
		switch {
		case errors.As(err, &se) && (se.Code == http.StatusBadRequest || se.Code == http.StatusRequestEntityTooLarge):
			// The hub will never take this batch: keeping it would block
			// every record behind it.
			c.Log.Error("smart feedback: the hub refused a batch; dropped", "records", len(recs), "err", err)
		case err != nil:
			c.Log.Warn("smart feedback: records stay queued", "records", len(recs), "err", err)
			return
		}
		last := recs[len(recs)-1].Seq
		if err := c.DB.Write(ctx, func(tx *store.Tx) error { return store.FeedbackSent(tx, last) }); err != nil {
			c.Log.Error("smart feedback: clear outbox", "err", err)
			return
		}
		c.Log.Info("smart feedback sent", "records", len(recs))
		if len(recs) < feedbackBatch {
			return
		}
	}
}
