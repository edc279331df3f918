package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
)

// Screenshot is the guest's display at the end of a run, taken through
// libvirt (virDomainScreenshot): qemu gives a PPM, which is kept as PNG.
type Screenshot struct {
	PNG []byte
	// Error says why there is none (a guest without a display, a libvirt
	// driver that cannot take one).
	Error string
}

// maxScreenshot bounds what a screenshot stream may bring (a 4K screen as
// 16-bit PPM is 50 MB).
const maxScreenshot = 64 << 20

// capped keeps the first max bytes written to it and counts the rest, so
// that a libvirt stream is read to its end whatever its size.
type capped struct {
	buf  bytes.Buffer
	max  int
	lost int64
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	if room := max(c.max-c.buf.Len(), 0); room < n {
		c.lost += int64(n - room)
		p = p[:room]
	}
	c.buf.Write(p)
	return n, nil
}

// screenshotPNG turns a screenshot into PNG, by what its first bytes say
// it is (qemu gives PPM, the test driver PNG).
func screenshotPNG(data []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		if _, err := png.DecodeConfig(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("screenshot: a broken PNG: %w", err)
		}
		return data, nil
	case bytes.HasPrefix(data, []byte("P6")):
		img, err := DecodePPM(data)
		if err != nil {
			return nil, fmt.Errorf("screenshot: %w", err)
		}
		var b bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, img); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("screenshot: libvirt gave %d bytes that are neither PNG nor PPM", len(data))
}

// maxPixels bounds a PPM's width × height (8K by 8K).
const maxPixels = 8192 * 8192

// DecodePPM reads a binary PPM (netpbm "P6": a text header of width,
// height and maximum value, then the RGB samples, one or two bytes each),
// what qemu's screendump writes.
//
// It takes the whole file, so that a header claiming more pixels than
// follow is refused before any image is allocated.
func DecodePPM(data []byte) (image.Image, error) {
	rd := bytes.NewReader(data)
	br := bufio.NewReader(rd)
	magic := make([]byte, 2)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "P6" {
		return nil, errors.New("not a binary PPM (P6)")
	}
	var nums [3]int
	for i := range nums {
		n, err := ppmNumber(br)
		if err != nil {
			return nil, fmt.Errorf("PPM header: %w", err)
		}
		nums[i] = n
	}
	w, h, maxval := nums[0], nums[1], nums[2]
	if w <= 0 || h <= 0 || w*h > maxPixels {
		return nil, fmt.Errorf("PPM of %d×%d pixels: not a screen", w, h)
	}
	if maxval <= 0 || maxval > 65535 {
		return nil, fmt.Errorf("PPM maximum value %d out of range", maxval)
	}
	// One whitespace byte ends the header (ppmNumber has read it).
	size := 1
	if maxval > 255 {
		size = 2
	}
	if left := rd.Len() + br.Buffered(); left < w*h*3*size {
		return nil, fmt.Errorf("PPM of %d×%d pixels with %d bytes of pixels", w, h, left)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	row := make([]byte, w*3*size)
	sample := func(b []byte) uint8 {
		v := int(b[0])
		if size == 2 {
			v = v<<8 | int(b[1])
		}
		return uint8(min(v, maxval) * 255 / maxval)
	}
	for y := 0; y < h; y++ {
		if _, err := io.ReadFull(br, row); err != nil {
			return nil, fmt.Errorf("PPM pixels end at row %d of %d", y, h)
		}
		for x := 0; x < w; x++ {
			p := row[x*3*size:]
			img.SetNRGBA(x, y, color.NRGBA{R: sample(p), G: sample(p[size:]), B: sample(p[2*size:]), A: 255})
		}
	}
	return img, nil
}

// ppmNumber reads one decimal header field, skipping white space and
// comments before it, and the one white space byte after it.
func ppmNumber(br *bufio.Reader) (int, error) {
	n, digits := 0, 0
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, errors.New("header ends early")
		}
		switch {
		case c >= '0' && c <= '9':
			if digits++; digits > 9 {
				return 0, errors.New("number too long")
			}
			n = n*10 + int(c-'0')
		case digits > 0 && isSpace(c):
			return n, nil
		case digits == 0 && isSpace(c):
		case digits == 0 && c == '#':
			if _, err := br.ReadString('\n'); err != nil {
				return 0, errors.New("header ends in a comment")
			}
		default:
			return 0, fmt.Errorf("unexpected byte %q", c)
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
