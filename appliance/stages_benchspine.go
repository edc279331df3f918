//go:build benchspine

package appliance

import "mailinspector/internal/analysis"

// pipelineStages keeps the header sanity and sender list stages only: the
// mail engine of issue 2 without the content analysis that came after it
// (MIME walk, pattern engine, hub services, sandbox), so that issue 2's
// speed target, set for that part, can still be measured. An experiment
// build for scripts/bench-sut.sh (SPINE=1), never shipped: `make build`
// does not set the tag.
func pipelineStages(all []analysis.Stage) []analysis.Stage { return all[:2] }
