//go:build benchspine

package appliance

import "mailinspector/internal/analysis"

// pipelineStages keeps the header sanity and sender list stages only: the
// mail engine (SMTP, spool, store, dispatch, delivery) without the content
// analysis (MIME walk, pattern engine, hub services, sandbox), so that the
// engine's own speed can be measured beside an MTA's. An experiment
// build for scripts/bench-sut.sh (SPINE=1), never shipped: `make build`
// does not set the tag.
func pipelineStages(all []analysis.Stage) []analysis.Stage { return all[:2] }
