package spool

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Linux can create a file with no name (open(2) O_TMPFILE) and give it one
// later (linkat(2)). The spool uses that for new messages: creating a named
// temp file and renaming it touched two directories per message; on the
// relay hot path the create alone cost more CPU than half of copying the
// message data. A message that never gets its name leaves nothing behind,
// not even after a crash.

// linkMode is how a nameless file gets its name.
type linkMode int

const (
	linkNone      linkMode = iota // no O_TMPFILE here: named temp files
	linkEmptyPath                 // linkat(fd, "", AT_EMPTY_PATH): needs CAP_DAC_READ_SEARCH on older kernels
	linkProcFD                    // linkat("/proc/self/fd/N", AT_SYMLINK_FOLLOW): any user, needs /proc
)

// openAnon opens a nameless file in dir for writing.
func openAnon(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, "(new)")), nil
}

// link gives the nameless file f the name path. It fails with an error
// wrapping os.ErrExist when path exists: a link never replaces.
func (m linkMode) link(f *os.File, path string) error {
	var err error
	switch m {
	case linkEmptyPath:
		err = unix.Linkat(int(f.Fd()), "", unix.AT_FDCWD, path, unix.AT_EMPTY_PATH)
	case linkProcFD:
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	default:
		err = errors.ErrUnsupported
	}
	if err != nil {
		return &os.LinkError{Op: "linkat", Old: f.Name(), New: path, Err: err}
	}
	return nil
}

// probeLink finds the first way that works here to create a nameless file
// in dir and name it: a file system without O_TMPFILE, a kernel that wants
// a capability for AT_EMPTY_PATH, or a hidden /proc each rule one out.
func probeLink(dir string) linkMode {
	for _, m := range []linkMode{linkEmptyPath, linkProcFD} {
		f, err := openAnon(dir)
		if err != nil {
			return linkNone
		}
		name := filepath.Join(dir, ".probe-"+strconv.Itoa(os.Getpid()))
		os.Remove(name)
		err = m.link(f, name)
		f.Close()
		os.Remove(name)
		if err == nil {
			return m
		}
	}
	return linkNone
}
