//go:build !unix

package disk

import "errors"

// Measure is not implemented off Unix (the appliance runs on Linux; other
// systems build for the sandbox agent only).
func Measure(path string) (Usage, error) {
	return Usage{}, errors.New("disk usage is measured on Unix only")
}
