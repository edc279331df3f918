package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Value is one key as the settings file has it.
type Value struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Default string `json:"default"`
	Doc     string `json:"doc"`
}

// Values lists every key with its value in the settings file of dataDir
// (its default when the file does not set it), in the keys table's order.
func Values(dataDir string) ([]Value, error) {
	path := filepath.Join(dataDir, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		data = DefaultFile()
	} else if err != nil {
		return nil, err
	}
	vals, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	out := make([]Value, 0, len(keys))
	for _, k := range keys {
		v, ok := vals[k.Name]
		if !ok {
			v = k.Default
		}
		out = append(out, Value{Key: k.Name, Value: v, Default: k.Default, Doc: k.Doc})
	}
	return out, nil
}

// Restore puts the n-th newest kept version back in place (1: the newest),
// after validating it; the version it replaces is kept in turn.
func Restore(dataDir string, n int) error {
	versions, err := History(dataDir)
	if err != nil {
		return err
	}
	if n < 1 || n > len(versions) {
		return fmt.Errorf("%d earlier versions are kept; rollback takes 1 to %d", len(versions), len(versions))
	}
	return RestoreFile(dataDir, versions[len(versions)-n])
}

// RestoreFile puts a kept version back in place, validated; the current
// file goes to the history.
func RestoreFile(dataDir, version string) error {
	data, err := os.ReadFile(version)
	if err != nil {
		return err
	}
	vals, err := Parse(version, data)
	if err != nil {
		return err
	}
	if _, err := Build(vals); err != nil {
		return err
	}
	path := filepath.Join(dataDir, FileName)
	cur, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if cur != nil {
		if err := keepHistory(dataDir, cur); err != nil {
			return err
		}
	}
	return writeAtomic(dataDir, path, data)
}

// ConfirmFile marks a commit that rolls back by itself unless confirmed:
// it survives a reload and a restart of the daemon.
const ConfirmFile = "settings.confirm"

// Pending is a commit waiting for its confirmation.
type Pending struct {
	Deadline time.Time `json:"deadline"`
	Restore  string    `json:"restore"` // the kept version to put back
}

// SetPending records that the settings roll back to version at deadline
// unless confirmed.
func SetPending(dataDir string, p Pending) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return writeAtomic(dataDir, filepath.Join(dataDir, ConfirmFile), b)
}

// PendingConfirm is the commit waiting for its confirmation, if any.
func PendingConfirm(dataDir string) (Pending, bool, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, ConfirmFile))
	if errors.Is(err, os.ErrNotExist) {
		return Pending{}, false, nil
	}
	if err != nil {
		return Pending{}, false, err
	}
	var p Pending
	if err := json.Unmarshal(b, &p); err != nil {
		return Pending{}, false, fmt.Errorf("%s: %w", ConfirmFile, err)
	}
	return p, true, nil
}

// ClearPending confirms: the settings stay.
func ClearPending(dataDir string) error {
	err := os.Remove(filepath.Join(dataDir, ConfirmFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Secret says whether a key's value is a secret (the hub's API key, the
// archive passwords): set, never shown or written to the audit log.
func Secret(key string) bool { return key == "hub.key" || key == "archive.passwords" }

// OwnLikeDataDir gives a file root wrote in the data directory the
// directory's owner, as the settings file gets (the console writes for a
// daemon that runs as its own user).
func OwnLikeDataDir(dataDir, path string) error { return ownLikeDataDir(dataDir, path) }
