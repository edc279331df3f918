// Package durable writes files so that a crash at any moment leaves either
// the old content or the new one, never a torn file: temp file beside the
// target, fsync the data, rename into place, fsync the directory.
package durable

import (
	"os"
	"path/filepath"
)

// SyncDir fsyncs a directory so that a rename or create inside it survives
// a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteFile replaces path with data atomically and durably.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// PrivateDir makes dir (and its parents) if missing and tightens dir to
// 0750 if it already was there with wider permissions: a data directory
// holds mail, keys and databases.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	return tighten(dir, 0o750)
}

// PrivateFile makes path an empty 0600 file if missing and tightens it to
// 0600 if it was wider. SQLite creates a database with the umask's
// permissions (often world-readable) and gives its -wal and -shm files the
// database file's: made first, they are all private.
func PrivateFile(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	return tighten(path, 0o600)
}

// tighten removes permission bits beyond max.
func tighten(path string, max os.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if mode := fi.Mode().Perm(); mode&^max != 0 {
		return os.Chmod(path, mode&max)
	}
	return nil
}
