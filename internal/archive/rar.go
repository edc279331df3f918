package archive

import (
	"bytes"
	"errors"
	"io"

	"github.com/nwaples/rardecode/v2"
)

// maxRARDictionary bounds the window a RAR archive may ask for: the
// decoder allocates it (RAR5 allows 4 GiB, RAR 7 more); WinRAR's defaults
// are 32 MiB and below.
const maxRARDictionary = 64 << 20

// rar opens a RAR archive (github.com/nwaples/rardecode/v2): RAR 1.5 to 5,
// solid or not, with encrypted files or encrypted headers. An archive
// needs one password for all its files: the first encrypted one tells which.
func (w *walker) rar(name string, data []byte, depth int) error {
	pw, err := w.rarPassword(data)
	if err != nil {
		var enc encryptedError
		if errors.As(err, &enc) {
			w.problem(name, "encrypted", "rar: %v", err)
		} else {
			w.problem(name, "corrupt", "rar: %v", err)
		}
		return nil
	}
	rr, err := newRAR(data, pw)
	if err != nil {
		w.problem(name, "corrupt", "rar: %v", err)
		return nil
	}
	for !w.stopped {
		hdr, err := rr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			w.problem(name, problemOfRAR(err), "rar: %v", err)
			return nil
		}
		if hdr.IsDir || hdr.LinkType != 0 {
			continue
		}
		p := name + "/" + cleanPath(hdr.Name)
		r := &rarMember{r: rr}
		err = w.member(p, r, depth, Member{Encrypted: hdr.Encrypted, Password: map[bool]string{true: pw}[hdr.Encrypted]})
		if r.err != nil {
			// The stream is lost past a damaged member.
			w.problem(p, problemOfRAR(r.err), "rar: %v", r.err)
			return err
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func newRAR(data []byte, pw string) (*rardecode.Reader, error) {
	opts := []rardecode.Option{rardecode.MaxDictionarySize(maxRARDictionary)}
	if pw != "" {
		opts = append(opts, rardecode.Password(pw))
	}
	return rardecode.NewReader(bytes.NewReader(data), opts...)
}

// rarPassword is the password the archive needs ("" for none).
func (w *walker) rarPassword(data []byte) (string, error) {
	locked, err := w.rarLocked(data, "")
	if err != nil || !locked {
		return "", err
	}
	return w.tryPasswords(func(pw string) bool {
		locked, err := w.rarLocked(data, pw)
		return err == nil && !locked
	})
}

// rarLocked reads the archive up to its first encrypted file, that one
// whole (its checksum tells a wrong password from the right one): true
// when encryption keeps it shut with pw.
func (w *walker) rarLocked(data []byte, pw string) (bool, error) {
	rr, err := newRAR(data, pw)
	if err != nil {
		return isEncryptedRAR(err), nilIfEncrypted(err)
	}
	for {
		hdr, err := rr.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return isEncryptedRAR(err), nilIfEncrypted(err)
		}
		if !hdr.Encrypted || hdr.IsDir {
			continue
		}
		if pw == "" {
			return true, nil
		}
		_, err = io.CopyN(io.Discard, rr, w.lim.MaxTotalBytes)
		return err != nil && err != io.EOF, nil
	}
}

func isEncryptedRAR(err error) bool {
	return errors.Is(err, rardecode.ErrArchiveEncrypted) || errors.Is(err, rardecode.ErrArchivedFileEncrypted) ||
		errors.Is(err, rardecode.ErrBadPassword)
}

func nilIfEncrypted(err error) error {
	if isEncryptedRAR(err) {
		return nil
	}
	return err
}

func problemOfRAR(err error) string {
	switch {
	case isEncryptedRAR(err):
		return "encrypted"
	case errors.Is(err, rardecode.ErrDictionaryTooLarge):
		return "size"
	}
	return "corrupt"
}

// rarMember reads the current member and keeps its read error.
type rarMember struct {
	r   io.Reader
	err error
}

func (m *rarMember) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		m.err = err
	}
	return n, err
}
