// Package risk names the risk levels of DESIGN.md and orders them, for
// every engine that rates something (the pipeline, the sandbox's rules).
package risk

// Risk levels. Unrated means something that needed judging could not be
// judged: a part the walk could not look at, an archive that stayed
// locked, a pattern engine that was skipped.
const (
	None    = "none"
	Unrated = "unrated"
	Low     = "low"
	Medium  = "medium"
	High    = "high"
)

// Rank orders risks: the higher wins ("the message takes the highest
// risk"). Unrated ranks above low and below medium: what nothing could
// judge weighs more than a small finding, and never passes as none. None
// and anything unknown rank lowest.
func Rank(r string) int {
	switch r {
	case Low:
		return 1
	case Unrated:
		return 2
	case Medium:
		return 3
	case High:
		return 4
	}
	return 0
}
