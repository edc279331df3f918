// Package risk names the risk levels of DESIGN.md and orders them, for
// every engine that rates something (the pipeline, the sandbox's rules).
package risk

// Risk levels. Unrated means nothing could rate an object.
const (
	None    = "none"
	Unrated = "unrated"
	Low     = "low"
	Medium  = "medium"
	High    = "high"
)

// Rank orders risks: the higher wins ("the message takes the highest
// risk"). None and anything unknown rank lowest.
func Rank(r string) int {
	switch r {
	case Unrated:
		return 1
	case Low:
		return 2
	case Medium:
		return 3
	case High:
		return 4
	}
	return 0
}
