//go:build !benchspine

package appliance

import "mailinspector/internal/analysis"

// pipelineStages is the pipeline as built; the benchspine experiment build
// (stages_benchspine.go) keeps only its first stages.
func pipelineStages(all []analysis.Stage) []analysis.Stage { return all }
