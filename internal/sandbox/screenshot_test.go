package sandbox

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
)

func TestDecodePPM(t *testing.T) {
	// 2×1: red, then a 16-bit half grey; with a comment in the header.
	img, err := DecodePPM([]byte("P6\n# qemu\n2 1\n255\n\xff\x00\x00\x80\x80\x80"))
	if err != nil {
		t.Fatal(err)
	}
	if r, g, b, _ := img.At(0, 0).RGBA(); r>>8 != 255 || g != 0 || b != 0 {
		t.Errorf("pixel 0: %d %d %d", r>>8, g>>8, b>>8)
	}
	if r, _, _, _ := img.At(1, 0).RGBA(); r>>8 != 128 {
		t.Errorf("pixel 1: %d", r>>8)
	}
	img, err = DecodePPM([]byte("P6 1 1 65535\n\xff\xff\x80\x00\x00\x00"))
	if err != nil {
		t.Fatal(err)
	}
	if r, g, b, _ := img.At(0, 0).RGBA(); r>>8 != 255 || g>>8 != 127 || b != 0 {
		t.Errorf("16-bit pixel: %d %d %d", r>>8, g>>8, b>>8)
	}
	for in, want := range map[string]string{
		"P5\n1 1\n255\n\x00":       "not a binary PPM",
		"P6\n1 1\n255\n":           "1×1 pixels with 0 bytes",
		"P6\n100000 100000\n255\n": "not a screen",
		"P6\n1 1\n0\n":             "maximum value 0",
		"P6\n1 x\n255\n":           "unexpected byte",
		"P6\n# no end":             "ends in a comment",
		"P6\n1234567890 1\n":       "number too long",
	} {
		if _, err := DecodePPM([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestScreenshotPNG(t *testing.T) {
	out, err := screenshotPNG([]byte("P6\n2 2\n255\n" + strings.Repeat("\x10\x20\x30", 4)))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil || img.Bounds().Dx() != 2 {
		t.Fatalf("%v %v", err, img)
	}
	if again, err := screenshotPNG(out); err != nil || !bytes.Equal(again, out) {
		t.Errorf("a PNG is kept as it is: %v", err)
	}
	if _, err := screenshotPNG(out[:20]); err == nil {
		t.Error("a broken PNG was taken")
	}
	if _, err := screenshotPNG([]byte("BM....")); err == nil || !strings.Contains(err.Error(), "neither PNG nor PPM") {
		t.Errorf("unknown type: %v", err)
	}
	c := &capped{max: 4}
	if n, err := c.Write([]byte("abcdef")); n != 6 || err != nil || c.buf.String() != "abcd" || c.lost != 2 {
		t.Errorf("capped: %d %v %q %d", n, err, c.buf.String(), c.lost)
	}
}

func FuzzDecodePPM(f *testing.F) {
	f.Add([]byte("P6\n# c\n2 1\n255\n\xff\x00\x00\x80\x80\x80"))
	f.Add([]byte("P6 1 1 65535\n\xff\xff\x80\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := DecodePPM(b)
		if err == nil && (img.Bounds().Dx() <= 0 || img.Bounds().Dx()*img.Bounds().Dy() > maxPixels) {
			t.Fatalf("accepted %v", img.Bounds())
		}
	})
}
