// Package archive opens attachments that hold other files — zip (with
// ZipCrypto and WinZip AES encryption), 7z and RAR (with their AES
// encryption), gzip, tar — nested, within limits on
// depth, member count, expanded bytes and compression ratio, so that a zip
// bomb costs a bounded amount of time and memory and ends as a problem
// report ("unscannable"), never a crash or a hang.
package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"mailinspector/internal/message"
)

// Limits bound one archive and everything nested in it.
type Limits struct {
	MaxDepth      int   // archives within archives
	MaxMembers    int   // files in all
	MaxTotalBytes int64 // expanded bytes in all
	MaxRatio      int64 // expanded / compressed, per member (zip)
	MaxInMemory   int64 // a nested archive is read into memory up to this size
}

// DefaultLimits are the appliance's defaults.
var DefaultLimits = Limits{MaxDepth: 5, MaxMembers: 2000, MaxTotalBytes: 256 << 20, MaxRatio: 200, MaxInMemory: 32 << 20}

// Member is one file found inside.
type Member struct {
	Path      string // outer.zip/dir/inner.zip/file
	Size      int64
	SHA256    string
	TrueType  string
	Encrypted bool
	Password  string // the password that opened it, if any
}

// Problem is something that could not be looked at, and why.
type Problem struct {
	Path   string
	Reason string // encrypted, depth, members, size, ratio, corrupt
	Detail string
}

// Visit gets each member's content (a file, never an archive that was
// opened); it may read it or not.
type Visit func(m *Member, content io.Reader) error

// IsArchive says whether a true type is one Walk opens.
func IsArchive(trueType string) bool {
	switch trueType {
	case "application/zip", "application/gzip", "application/x-tar", "application/x-7z-compressed", "application/x-rar":
		return true
	}
	return false
}

// HandedWhole says whether a true type holds other files that Walk does
// not open: such a file goes to the pattern engine whole, which opens it
// itself (ClamAV reads cab, arj, iso, cpio, bzip2, xz and more), and the
// trail says so.
func HandedWhole(trueType string) bool {
	switch trueType {
	case "application/vnd.ms-cab-compressed", "application/x-bzip2", "application/x-xz", "application/x-arj",
		"application/x-iso9660-image", "application/x-cpio", "application/vnd.ms-htmlhelp", "application/x-ole-storage":
		return true
	}
	return false
}

// Result lists what was inside.
type Result struct {
	Members  []Member
	Problems []Problem
}

// Passwords gives the candidates for encrypted members. It is called only
// when an archive has one: finding them in the message's text costs a pass
// over it that most messages never need.
type Passwords func() []string

// List is a fixed list of passwords.
func List(pws ...string) Passwords { return func() []string { return pws } }

type walker struct {
	lim       Limits
	pwSource  Passwords
	pwAsked   bool
	passwords []string
	visit     Visit
	res       *Result
	members   int
	total     int64
	stopped   bool // a global limit was hit: nothing more is opened
}

// Walk opens data (of the given true type, named name) and everything in
// it. passwords are tried on encrypted zip members. It returns an error
// only when visit does.
func Walk(name, trueType string, data []byte, lim Limits, passwords Passwords, visit Visit) (*Result, error) {
	w := &walker{lim: lim, pwSource: passwords, visit: visit, res: &Result{}}
	err := w.open(name, trueType, data, 1)
	return w.res, err
}

func (w *walker) problem(p, reason, format string, args ...any) {
	if len(w.res.Problems) < 200 {
		w.res.Problems = append(w.res.Problems, Problem{Path: p, Reason: reason, Detail: fmt.Sprintf(format, args...)})
	}
}

func (w *walker) open(name, trueType string, data []byte, depth int) (err error) {
	if depth > w.lim.MaxDepth {
		w.problem(name, "depth", "archives nested deeper than %d", w.lim.MaxDepth)
		return nil
	}
	// The format readers meet hostile input: one that panics leaves this
	// archive unscannable, not the message unjudged.
	defer func() {
		if r := recover(); r != nil {
			w.problem(name, "corrupt", "%s reader failed: %v", trueType, r)
			err = nil
		}
	}()
	switch trueType {
	case "application/zip":
		return w.zip(name, data, depth)
	case "application/gzip":
		return w.gzip(name, data, depth)
	case "application/x-tar":
		return w.tar(name, bytes.NewReader(data), depth)
	case "application/x-7z-compressed":
		return w.sevenZip(name, data, depth)
	case "application/x-rar":
		return w.rar(name, data, depth)
	}
	return nil
}

// passwordBudget bounds the time spent trying passwords on one archive.
// 7z and RAR 5 derive each key with a number of hash rounds the archive
// names (7-Zip writes 2^19; sevenzip allows up to 2^24, some seconds
// each): a hostile archive must not buy minutes of CPU per message. The
// budget is checked between tries.
const passwordBudget = 5 * time.Second

// tryPasswords calls try with each candidate password until it returns
// true, within passwordBudget; it returns the password that opened it.
func (w *walker) tryPasswords(try func(pw string) bool) (string, error) {
	pws := w.candidates()
	if len(pws) == 0 {
		return "", encryptedError{"encrypted, and no password to try"}
	}
	deadline := time.Now().Add(passwordBudget)
	for i, pw := range pws {
		if i > 0 && time.Now().After(deadline) {
			return "", encryptedError{fmt.Sprintf("encrypted, %d of %d passwords tried in %s, none opened it", i, len(pws), passwordBudget)}
		}
		if try(pw) {
			return pw, nil
		}
	}
	return "", encryptedError{fmt.Sprintf("encrypted (or damaged), none of %d passwords opened it", len(pws))}
}

// encryptedError: no password (or none of those tried) opens the archive.
type encryptedError struct{ msg string }

func (e encryptedError) Error() string { return e.msg }

// candidates are the passwords to try on an encrypted archive, asked for
// once.
func (w *walker) candidates() []string {
	if !w.pwAsked && w.pwSource != nil {
		w.pwAsked, w.passwords = true, w.pwSource()
	}
	return w.passwords
}

// member handles one file found inside: counts it against the limits,
// reads it (bounded), then opens it if it is an archive itself, else hands
// it to visit.
func (w *walker) member(p string, r io.Reader, depth int, m Member) error {
	if w.stopped {
		return nil
	}
	w.members++
	if w.members > w.lim.MaxMembers {
		w.problem(p, "members", "more than %d files", w.lim.MaxMembers)
		w.stopped = true
		return nil
	}
	budget := w.lim.MaxTotalBytes - w.total
	lr := &io.LimitedReader{R: r, N: budget + 1}
	h := sha256.New()
	// Learn the type from the first bytes; keep the whole only when it is
	// an archive to open (bounded by MaxInMemory).
	pk, err := Peek(io.TeeReader(lr, h), w.lim.MaxInMemory)
	if err != nil {
		w.problem(p, "corrupt", "%v", err)
		return nil
	}
	m.Path, m.TrueType = p, pk.TrueType
	switch {
	case pk.TooBig:
		w.problem(p, "size", "nested archive larger than %d bytes", w.lim.MaxInMemory)
		io.Copy(io.Discard, pk.Stream)
		m.Size = w.lim.MaxInMemory + 1
	case pk.Data != nil:
		m.Size = int64(len(pk.Data))
	default:
		counted := &message.CountingReader{R: pk.Stream}
		var verr error
		if w.visit != nil {
			verr = w.visit(&m, counted)
		}
		if _, err := io.Copy(io.Discard, counted); err != nil && counted.Err == nil {
			counted.Err = err
		}
		if counted.Err != nil {
			// The member itself is damaged: what visit made of the broken
			// read is not visit's failure.
			w.problem(p, "corrupt", "%v", counted.Err)
			verr = nil
		}
		m.Size = counted.N
		if verr != nil {
			m.SHA256 = hex.EncodeToString(h.Sum(nil))
			w.res.Members = append(w.res.Members, m)
			return verr
		}
	}
	if lr.N <= 0 {
		w.problem(p, "size", "expands past %d bytes in all (zip bomb?)", w.lim.MaxTotalBytes)
		w.stopped = true
		return nil
	}
	w.total += m.Size
	m.SHA256 = hex.EncodeToString(h.Sum(nil))
	w.res.Members = append(w.res.Members, m)
	if pk.Data != nil {
		return w.open(p, m.TrueType, pk.Data, depth+1)
	}
	return nil
}

func (w *walker) gzip(name string, data []byte, depth int) error {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		w.problem(name, "corrupt", "gzip: %v", err)
		return nil
	}
	zr.Multistream(false)
	inner := zr.Name // the name gzip kept, if any (RFC 1952 FNAME)
	if inner == "" {
		base := path.Base(name)
		switch {
		case strings.HasSuffix(base, ".tgz"):
			inner = strings.TrimSuffix(base, ".tgz") + ".tar"
		case strings.HasSuffix(base, ".gz") && len(base) > 3:
			inner = strings.TrimSuffix(base, ".gz")
		default:
			inner = "data"
		}
	}
	inner = cleanPath(inner)
	if err := w.member(name+"/"+inner, zr, depth, Member{}); err != nil {
		return err
	}
	return nil
}

func (w *walker) tar(name string, r io.Reader, depth int) error {
	tr := tar.NewReader(r)
	for !w.stopped {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			w.problem(name, "corrupt", "tar: %v", err)
			return nil
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		if err := w.member(name+"/"+cleanPath(hdr.Name), tr, depth, Member{}); err != nil {
			return err
		}
	}
	return nil
}

// cleanPath keeps member names for display only: no absolute paths, no
// climbing out, no control characters.
func cleanPath(p string) string {
	p = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return '_'
		}
		return r
	}, p)
	p = path.Clean("/" + p)[1:]
	if p == "" {
		p = "_"
	}
	return p
}

var errWrongPassword = errors.New("wrong password")
