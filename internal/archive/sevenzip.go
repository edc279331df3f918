package archive

import (
	"bytes"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/bodgit/sevenzip"
)

// sevenZip opens a 7-Zip archive (github.com/bodgit/sevenzip): LZMA, LZMA2,
// PPMd, BZip2, Deflate, BCJ filters and AES-256 encryption, with the file
// names themselves encrypted or not. An archive needs one password for all
// its files, as 7-Zip writes them: the first file tells which.
func (w *walker) sevenZip(name string, data []byte, depth int) error {
	zr, pw, err := w.open7z(data)
	if err != nil {
		var enc encryptedError
		if errors.As(err, &enc) {
			w.problem(name, "encrypted", "7z: %v", err)
		} else {
			w.problem(name, "corrupt", "7z: %v", err)
		}
		return nil
	}
	for _, f := range zr.File {
		if w.stopped {
			return nil
		}
		if f.FileInfo().IsDir() {
			continue
		}
		p := name + "/" + cleanPath(f.Name)
		rc, err := f.Open()
		if err != nil {
			w.problem(p, problemOf7z(err), "%v", err)
			continue
		}
		r := &sevenZipMember{r: rc, want: f.CRC32, h: crc32.NewIEEE()}
		err = w.member(p, r, depth, Member{Encrypted: pw != "", Password: pw})
		rc.Close()
		if r.encrypted {
			w.problem(p, "encrypted", "7z: no password opened it")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// open7z opens the archive, with the password it needs if it needs one.
// The reader it returns is a fresh one: a 7z stream read once (to try a
// password) is not read again from its start.
func (w *walker) open7z(data []byte) (*sevenzip.Reader, string, error) {
	open := func(pw string) (*sevenzip.Reader, error) {
		if pw == "" {
			return sevenzip.NewReader(bytes.NewReader(data), int64(len(data)))
		}
		return sevenzip.NewReaderWithPassword(bytes.NewReader(data), int64(len(data)), pw)
	}
	zr, err := open("")
	if err == nil && !w.sevenZipLocked(zr) {
		zr, err = open("")
		return zr, "", err
	}
	// Encrypted files, or encrypted file names (then the header itself
	// does not read without the password, whatever error that gives).
	if err != nil && !isEncrypted7z(err) && len(w.candidates()) == 0 {
		return nil, "", fmt.Errorf("%w (or its file names are encrypted, and no password to try)", err)
	}
	pw, err := w.tryPasswords(func(pw string) bool {
		zr, err := open(pw)
		return err == nil && !w.sevenZipLocked(zr)
	})
	if err != nil {
		return nil, "", err
	}
	zr, err = open(pw)
	return zr, pw, err
}

// sevenZipLocked reads the archive's first file to its end and checks its
// CRC-32: true when it does not read right. Without the password an
// encrypted file may read without an error (stored, it comes out still
// encrypted), and so may a stored one decrypted with a wrong key: only the
// checksum tells.
func (w *walker) sevenZipLocked(zr *sevenzip.Reader) bool {
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return true
		}
		defer rc.Close()
		h := crc32.NewIEEE()
		switch _, err = io.CopyN(h, rc, w.lim.MaxTotalBytes); err {
		case nil:
			return false // past the size limit: the walk reports that
		case io.EOF:
			return f.CRC32 != 0 && h.Sum32() != f.CRC32
		}
		return true
	}
	return false
}

func isEncrypted7z(err error) bool {
	var re sevenzip.ReadError
	var rp *sevenzip.ReadError
	return errors.As(err, &re) && re.Encrypted || errors.As(err, &rp) && rp.Encrypted
}

func problemOf7z(err error) string {
	if isEncrypted7z(err) {
		return "encrypted"
	}
	return "corrupt"
}

// sevenZipMember checks a member's CRC-32 at its end and notes when its
// read fails for encryption.
type sevenZipMember struct {
	r         io.Reader
	want      uint32
	h         hash.Hash32
	encrypted bool
}

func (m *sevenZipMember) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.h.Write(p[:n])
	if err == io.EOF && m.want != 0 && m.h.Sum32() != m.want {
		return n, errors.New("7z: CRC-32 mismatch")
	}
	if err != nil && err != io.EOF && isEncrypted7z(err) {
		m.encrypted = true
	}
	return n, err
}
