// Package spool keeps message bodies as files, durably: a message is written
// to a file with no name yet (Linux's O_TMPFILE; elsewhere a temp file in
// tmp/), fsynced, given its name in msg/ and the directory fsynced before
// its row is committed and the client hears 250.
package spool

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"mailinspector/internal/durable"
)

// Spool is a directory of message files named by message id.
type Spool struct {
	dir string
	// link is how new files get their name in msg/; linkNone: they are
	// written in tmp/ and renamed.
	link linkMode

	// Group fsync of msg/: renames that happen while a directory fsync is
	// waiting to start all share it.
	mu      sync.Mutex
	pending *dirSync
	running bool
}

type dirSync struct {
	done chan struct{}
	err  error
}

// Open prepares dir (tmp/ and msg/ inside it) and deletes leftovers in tmp/:
// those belong to messages whose client never got a 250.
func Open(dir string) (*Spool, error) {
	for _, d := range []string{"tmp", "msg"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	left, err := filepath.Glob(filepath.Join(dir, "tmp", "*"))
	if err != nil {
		return nil, err
	}
	for _, p := range left {
		os.Remove(p)
	}
	return &Spool{dir: dir, link: probeLink(filepath.Join(dir, "tmp"))}, nil
}

// File is a message being written.
type File struct {
	s    *Spool
	f    *os.File
	anon bool // f has no name until Commit links it into msg/
	size int64
	done bool
}

// Create starts a new message file: nameless where the system allows it,
// else in tmp/.
func (s *Spool) Create() (*File, error) {
	if s.link != linkNone {
		if f, err := openAnon(filepath.Join(s.dir, "msg")); err == nil {
			return &File{s: s, f: f, anon: true}, nil
		}
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "in-*")
	if err != nil {
		return nil, fmt.Errorf("spool create: %w", err)
	}
	return &File{s: s, f: f}, nil
}

func (f *File) Write(p []byte) (int, error) {
	n, err := f.f.Write(p)
	f.size += int64(n)
	return n, err
}

// Size is the number of bytes written so far.
func (f *File) Size() int64 { return f.size }

// Commit makes the file durable under id, replacing what id held: fsync
// data, name it in msg/, fsync the directory. After Commit returns nil the
// bytes survive a crash.
func (f *File) Commit(id string) error {
	if f.done {
		return errors.New("spool: file already committed or aborted")
	}
	f.done = true
	if f.anon {
		if err := f.nameAnon(id); err != nil {
			return err
		}
	} else if err := f.rename(id); err != nil {
		return err
	}
	if err := f.s.syncDir(); err != nil {
		return fmt.Errorf("spool fsync dir: %w", err)
	}
	return nil
}

// rename fsyncs and closes a temp file of tmp/ and renames it to id.
func (f *File) rename(id string) error {
	name := f.f.Name()
	if err := f.f.Sync(); err != nil {
		f.f.Close()
		os.Remove(name)
		return fmt.Errorf("spool fsync: %w", err)
	}
	if err := f.f.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("spool close: %w", err)
	}
	if err := os.Rename(name, f.s.Path(id)); err != nil {
		os.Remove(name)
		return fmt.Errorf("spool rename: %w", err)
	}
	return nil
}

// nameAnon links the nameless file into msg/ as id, fsyncs and closes it.
// The fsync comes after the link so that it also carries the inode's new
// link count; a crash between the two leaves a file without a database
// row, which the start-up sweep removes. A link never replaces: a message
// rewritten in place (id exists) is linked under a temp name in tmp/,
// fsynced, and renamed over the old one.
func (f *File) nameAnon(id string) error {
	path := f.s.Path(id)
	tmp := ""
	err := f.s.link.link(f.f, path)
	if errors.Is(err, os.ErrExist) {
		// From Path's checked name; a leftover of a crash in this very
		// step is removed first.
		tmp = filepath.Join(f.s.dir, "tmp", "re-"+filepath.Base(path))
		os.Remove(tmp)
		err = f.s.link.link(f.f, tmp)
	}
	if err != nil {
		f.f.Close()
		return fmt.Errorf("spool link: %w", err)
	}
	if err := f.f.Sync(); err != nil {
		f.f.Close()
		os.Remove(cmp.Or(tmp, path))
		return fmt.Errorf("spool fsync: %w", err)
	}
	// Linux frees the descriptor even when close reports an error, and
	// the data is on disk: nothing is left to undo.
	f.f.Close()
	if tmp != "" {
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("spool rename: %w", err)
		}
	}
	return nil
}

// syncDir returns once an fsync of msg/ that started after the call has
// finished, so the caller's rename is durable. Concurrent callers share
// one fsync: under load one journal commit covers many messages.
func (s *Spool) syncDir() error {
	s.mu.Lock()
	r := s.pending
	if r == nil {
		r = &dirSync{done: make(chan struct{})}
		s.pending = r
		if !s.running {
			s.running = true
			go s.runDirSyncs()
		}
	}
	s.mu.Unlock()
	<-r.done
	return r.err
}

func (s *Spool) runDirSyncs() {
	for {
		s.mu.Lock()
		r := s.pending
		s.pending = nil
		if r == nil {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		// Every caller in r named its file before joining r, and r is taken
		// before this fsync starts.
		r.err = durable.SyncDir(filepath.Join(s.dir, "msg"))
		close(r.done)
	}
}

// Abort throws the file away.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.f.Close()
	if !f.anon { // a nameless file goes with its descriptor
		os.Remove(f.f.Name())
	}
}

// Path is where the message id lives. Ids are generated by us, never taken
// from the client; a defensive check keeps them from naming other paths.
func (s *Spool) Path(id string) string {
	if id == "" || strings.ContainsAny(id, `/\.`) {
		id = "invalid"
	}
	return filepath.Join(s.dir, "msg", id)
}

// Open opens the message id for reading.
func (s *Spool) Open(id string) (*os.File, error) {
	return os.Open(s.Path(id))
}

// Put writes a whole message (a DSN, a notification) durably under id.
func (s *Spool) Put(id string, r io.Reader) error {
	f, err := s.Create()
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Abort()
		return err
	}
	return f.Commit(id)
}

// Remove deletes the message id; a missing file is not an error.
func (s *Spool) Remove(id string) error {
	err := os.Remove(s.Path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// IDs lists the message ids in the spool.
func (s *Spool) IDs() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "msg"))
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(ents))
	for _, e := range ents {
		ids = append(ids, e.Name())
	}
	return ids, nil
}

// Bytes is the size of the message files held (show status); files that
// vanish while it counts are skipped.
func (s *Spool) Bytes() int64 {
	ents, err := os.ReadDir(filepath.Join(s.dir, "msg"))
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}
