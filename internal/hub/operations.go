package hub

import (
	"fmt"
	"net/http"

	"mailinspector/internal/hubapi"
)

// The operational services: Smart Feedback, updates, licence and
// time-of-click.

const maxFeedbackBatch = 5000

func (s *Server) feedback(w http.ResponseWriter, r *http.Request) {
	var req hubapi.FeedbackRequest
	if err := decodeBody(w, r, 8<<20, &req); err != nil {
		badBody(w, err, "want {\"records\": [{kind, object, verdict, at}, …]}: "+err.Error())
		return
	}
	if len(req.Records) > maxFeedbackBatch {
		apiError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("at most %d records per batch", maxFeedbackBatch))
		return
	}
	for i, rec := range req.Records {
		switch rec.Kind {
		case "file", "domain", "ip", "url":
		default:
			apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("record %d: kind must be file, domain, ip or url", i))
			return
		}
		if rec.Object == "" || len(rec.Object) > 2048 {
			apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("record %d: object must be 1 to 2048 bytes", i))
			return
		}
	}
	app := r.Context().Value(ctxKey{}).(appliance)
	n, err := s.Store.AddSightings(r.Context(), app.name, req.Records)
	if err != nil {
		s.internal(w, err)
		return
	}
	reply(w, hubapi.FeedbackAnswer{Accepted: n})
}

func (s *Server) timeOfClick(w http.ResponseWriter, r *http.Request) {
	reply(w, hubapi.TimeOfClickAnswer{OK: true})
}
