package archive

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

// ratioFloor: below this many expanded bytes the ratio limit does not
// apply (a small file of zeros compresses a thousandfold and is harmless).
const ratioFloor = 1 << 20

func (w *walker) zip(name string, data []byte, depth int) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		w.problem(name, "corrupt", "zip: %v", err)
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
		m := Member{Encrypted: f.Flags&0x1 != 0}
		var r io.Reader
		if m.Encrypted {
			r, m.Password, err = w.decrypt(f)
			if err != nil {
				w.problem(p, "encrypted", "%v", err)
				continue
			}
		} else {
			rc, err := f.Open()
			if err != nil {
				w.problem(p, "corrupt", "%v", err)
				continue
			}
			r = rc
		}
		// A member may not expand more than MaxRatio times its compressed
		// size (past ratioFloor): the declared sizes can lie, so the bytes
		// are counted as they come.
		allowed := int64(f.CompressedSize64) * w.lim.MaxRatio
		allowed = max(allowed, ratioFloor)
		lr := &ratioReader{r: r, left: allowed}
		err := w.member(p, lr, depth, m)
		if lr.exceeded {
			w.problem(p, "ratio", "expands more than %d times its compressed size (zip bomb?)", w.lim.MaxRatio)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

type ratioReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (r *ratioReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		r.exceeded = true
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.r.Read(p)
	r.left -= int64(n)
	return n, err
}

// decrypt tries every password on an encrypted member: traditional PKWARE
// encryption (APPNOTE 6.1) or WinZip AES (AE-1/AE-2). It returns the
// decompressed content, checked by CRC-32 or HMAC as it is read.
func (w *walker) decrypt(f *zip.File) (io.Reader, string, error) {
	if len(w.candidates()) == 0 {
		return nil, "", errors.New("encrypted, and no password to try")
	}
	aesInfo, isAES := winzipAES(f)
	for _, pw := range w.passwords {
		if !isAES {
			// ZipCrypto's one check byte lets a wrong password through
			// one time in 256: read the member through once and check its
			// CRC-32 before taking the password (a wrong one then fails
			// the CRC or the inflater, and the next password is tried).
			out, err := w.openEncrypted(f, pw, aesInfo, isAES)
			if errors.Is(err, errWrongPassword) {
				continue
			}
			if err != nil {
				return nil, "", err
			}
			if _, err := io.Copy(io.Discard, io.LimitReader(out, int64(f.UncompressedSize64)+1)); err != nil {
				continue
			}
		}
		out, err := w.openEncrypted(f, pw, aesInfo, isAES)
		if errors.Is(err, errWrongPassword) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		return out, pw, nil
	}
	return nil, "", fmt.Errorf("encrypted, none of %d passwords opened it", len(w.passwords))
}

// openEncrypted reads an encrypted member with one password: decrypted,
// decompressed, and checked by CRC-32 (ZipCrypto, AE-1) as it is read.
func (w *walker) openEncrypted(f *zip.File, pw string, aesInfo aesExtra, isAES bool) (io.Reader, error) {
	raw, err := f.OpenRaw()
	if err != nil {
		return nil, err
	}
	var plain io.Reader
	method := f.Method
	if isAES {
		method = aesInfo.method
		plain, err = aesReader(raw, pw, aesInfo.strength, f.CompressedSize64)
	} else {
		plain, err = zipCryptoReader(raw, pw, f)
	}
	if err != nil {
		return nil, err
	}
	var out io.Reader
	switch method {
	case zip.Store:
		out = plain
	case zip.Deflate:
		out = flate.NewReader(plain)
	default:
		return nil, fmt.Errorf("compression method %d not supported", method)
	}
	if !isAES || aesInfo.version == 1 {
		out = &crcReader{r: out, want: f.CRC32, h: crc32.NewIEEE()}
	}
	return out, nil
}

// --- traditional PKWARE encryption (ZipCrypto), APPNOTE 6.1 ---

type zipCrypto struct{ k0, k1, k2 uint32 }

func newZipCrypto(pw string) *zipCrypto {
	z := &zipCrypto{0x12345678, 0x23456789, 0x34567890}
	for i := 0; i < len(pw); i++ {
		z.update(pw[i])
	}
	return z
}

func (z *zipCrypto) update(c byte) {
	z.k0 = crc32.IEEETable[byte(z.k0)^c] ^ (z.k0 >> 8)
	z.k1 = (z.k1+(z.k0&0xff))*134775813 + 1
	z.k2 = crc32.IEEETable[byte(z.k2)^byte(z.k1>>24)] ^ (z.k2 >> 8)
}

func (z *zipCrypto) decryptByte(c byte) byte {
	t := uint16(z.k2) | 2
	p := c ^ byte((uint32(t)*uint32(t^1))>>8)
	z.update(p)
	return p
}

type zipCryptoStream struct {
	r io.Reader
	z *zipCrypto
}

func (s *zipCryptoStream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	for i := 0; i < n; i++ {
		p[i] = s.z.decryptByte(p[i])
	}
	return n, err
}

func zipCryptoReader(raw io.Reader, pw string, f *zip.File) (io.Reader, error) {
	z := newZipCrypto(pw)
	var hdr [12]byte
	if _, err := io.ReadFull(raw, hdr[:]); err != nil {
		return nil, fmt.Errorf("encryption header: %w", err)
	}
	for i := range hdr {
		hdr[i] = z.decryptByte(hdr[i])
	}
	// The last header byte is the high byte of the CRC, or of the
	// modification time when sizes follow the data (flag bit 3).
	check := byte(f.CRC32 >> 24)
	if f.Flags&0x8 != 0 {
		check = byte(f.ModifiedTime >> 8)
	}
	if hdr[11] != check {
		return nil, errWrongPassword
	}
	return &zipCryptoStream{r: raw, z: z}, nil
}

type crcReader struct {
	r    io.Reader
	h    hash.Hash32
	want uint32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	if err == io.EOF && c.h.Sum32() != c.want {
		// One check byte lets a wrong password through 1 time in 256.
		return n, errors.New("CRC-32 mismatch after decryption (wrong password or damaged)")
	}
	return n, err
}

// --- WinZip AES (AE-1, AE-2) ---

type aesExtra struct {
	version  int
	strength int // 1: 128, 2: 192, 3: 256 bits
	method   uint16
}

func winzipAES(f *zip.File) (aesExtra, bool) {
	if f.Method != 99 {
		return aesExtra{}, false
	}
	ex := f.Extra
	for len(ex) >= 4 {
		id, size := binary.LittleEndian.Uint16(ex), int(binary.LittleEndian.Uint16(ex[2:]))
		if len(ex) < 4+size {
			break
		}
		if id == 0x9901 && size >= 7 {
			d := ex[4:]
			return aesExtra{version: int(binary.LittleEndian.Uint16(d)), strength: int(d[4]), method: binary.LittleEndian.Uint16(d[5:])}, true
		}
		ex = ex[4+size:]
	}
	return aesExtra{}, false
}

func aesReader(raw io.Reader, pw string, strength int, compressed uint64) (io.Reader, error) {
	keyLen := map[int]int{1: 16, 2: 24, 3: 32}[strength]
	if keyLen == 0 {
		return nil, fmt.Errorf("unknown AES strength %d", strength)
	}
	saltLen := keyLen / 2
	head := make([]byte, saltLen+2)
	if _, err := io.ReadFull(raw, head); err != nil {
		return nil, fmt.Errorf("AES header: %w", err)
	}
	dk, err := pbkdf2.Key(sha1.New, pw, head[:saltLen], 1000, 2*keyLen+2)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(dk[2*keyLen:], head[saltLen:]) {
		return nil, errWrongPassword
	}
	block, err := aes.NewCipher(dk[:keyLen])
	if err != nil {
		return nil, err
	}
	dataLen := int64(compressed) - int64(saltLen) - 2 - 10
	if dataLen < 0 {
		return nil, errors.New("AES member shorter than its header")
	}
	mac := hmac.New(sha1.New, dk[keyLen:2*keyLen])
	return &aesCTR{r: io.LimitReader(raw, dataLen), raw: raw, block: block, mac: mac, counter: 1}, nil
}

// aesCTR is WinZip's AES-CTR: a little-endian block counter from 1 (Go's
// cipher.NewCTR counts big-endian), with HMAC-SHA1 over the ciphertext,
// whose first 10 bytes follow the data.
type aesCTR struct {
	r       io.Reader
	raw     io.Reader
	block   cipher.Block
	mac     hash.Hash
	counter uint64
	ks      [aes.BlockSize]byte
	used    int
	started bool
}

func (a *aesCTR) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	a.mac.Write(p[:n])
	for i := 0; i < n; i++ {
		if !a.started || a.used == aes.BlockSize {
			var ctr [aes.BlockSize]byte
			binary.LittleEndian.PutUint64(ctr[:], a.counter)
			a.block.Encrypt(a.ks[:], ctr[:])
			a.counter++
			a.used, a.started = 0, true
		}
		p[i] ^= a.ks[a.used]
		a.used++
	}
	if err == io.EOF {
		var code [10]byte
		if _, rerr := io.ReadFull(a.raw, code[:]); rerr != nil {
			return n, fmt.Errorf("AES authentication code: %w", rerr)
		}
		if !hmac.Equal(a.mac.Sum(nil)[:10], code[:]) {
			return n, errors.New("AES authentication failed (damaged or forged)")
		}
	}
	return n, err
}
