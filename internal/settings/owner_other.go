//go:build !unix

package settings

// ownLikeDataDir: file owners as on unix do not apply here.
func ownLikeDataDir(dataDir, path string) error { return nil }
