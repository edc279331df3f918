package services

import "testing"

// TestWhileOutNamesEveryService: the status panel says, for every service
// the registry has, what is skipped while it is out of reach.
func TestWhileOutNamesEveryService(t *testing.T) {
	for _, name := range All {
		if WhileOut(name) == "" {
			t.Errorf("no line for %s", name)
		}
	}
}
