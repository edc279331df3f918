// Mail Inspector's test of its patch (PATCHES.md): a download call's reply
// and its stream packets in any order, against a fake libvirtd on a pipe.

package libvirt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt/internal/constants"
	"github.com/digitalocean/go-libvirt/socket"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// fakePacket is one packet the fake libvirtd sends in answer to a
// screenshot call.
type fakePacket struct {
	typ, status uint32
	payload     []byte
}

// fakeLibvirtd connects a client to a fake libvirtd on a pipe, which
// answers auth-list, connect-open, connect-close and get-lib-version, and
// each screenshot call with the packets of the next entry of screenshots.
func fakeLibvirtd(t *testing.T, screenshots [][]fakePacket) *Libvirt {
	t.Helper()
	client, conn := net.Pipe()
	send := func(h socket.Header, payload []byte) error {
		var b bytes.Buffer
		binary.Write(&b, binary.BigEndian, uint32(28+len(payload)))
		binary.Write(&b, binary.BigEndian, h)
		b.Write(payload)
		_, err := conn.Write(b.Bytes())
		return err
	}
	mustEncode := func(v any) []byte {
		b, err := encode(v)
		if err != nil {
			t.Error(err)
		}
		return b
	}
	go func() {
		defer conn.Close()
		for {
			var n uint32
			if err := binary.Read(conn, binary.BigEndian, &n); err != nil {
				return
			}
			var h socket.Header
			if err := binary.Read(conn, binary.BigEndian, &h); err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, conn, int64(n)-28); err != nil {
				return
			}
			reply := h
			reply.Type, reply.Status = socket.Reply, socket.StatusOK
			var err error
			switch h.Procedure {
			case constants.ProcAuthList:
				err = send(reply, mustEncode(&struct{ T []int32 }{[]int32{int32(constants.AuthNone)}}))
			case constants.ProcConnectOpen, constants.ProcConnectClose:
				err = send(reply, nil)
			case constants.ProcConnectGetLibVersion:
				err = send(reply, mustEncode(&struct{ V uint64 }{9000000}))
			case constants.ProcDomainScreenshot:
				for _, p := range screenshots[0] {
					ph := h
					ph.Type, ph.Status = p.typ, p.status
					if err = send(ph, p.payload); err != nil {
						break
					}
				}
				screenshots = screenshots[1:]
			}
			if err != nil {
				return
			}
		}
	}()
	l := NewWithDialer(dialers.NewAlreadyConnected(client))
	if err := l.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Disconnect() })
	return l
}

// failingWriter takes no bytes: the caller gives the stream up at once.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// callWithin fails the test if fn does not return within a few seconds:
// a wedged connection would otherwise hang the test until its timeout.
func callWithin(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not return: the connection is wedged", what)
	}
}

// The screenshot's MIME type comes from the call's reply and its image from
// the stream packets, whether the reply comes before, between or after
// them; the connection serves the next call afterwards. Unpatched
// go-libvirt took the first packet for the reply: with data first it lost
// the first chunk, read no MIME type, and left the rest of the stream to
// block the connection for every later call.
func TestDownloadReplyAndStreamInAnyOrder(t *testing.T) {
	mime, err := encode(&struct{ M OptString }{OptString{"image/x-portable-pixmap"}})
	if err != nil {
		t.Fatal(err)
	}
	reply := fakePacket{socket.Reply, socket.StatusOK, mime}
	d1 := fakePacket{socket.Stream, socket.StatusContinue, []byte("P6\n2 1\n255\n")}
	d2 := fakePacket{socket.Stream, socket.StatusContinue, []byte("\x01\x02\x03\x04\x05\x06")}
	end := fakePacket{socket.Stream, socket.StatusOK, nil}
	cases := []struct {
		name    string
		packets []fakePacket
	}{
		{"reply first", []fakePacket{reply, d1, d2, end}},
		{"data before the reply", []fakePacket{d1, reply, d2, end}},
		{"the whole stream before the reply", []fakePacket{d1, d2, end, reply}},
	}
	var screenshots [][]fakePacket
	for _, c := range cases {
		screenshots = append(screenshots, c.packets)
	}
	l := fakeLibvirtd(t, screenshots)
	want := string(d1.payload) + string(d2.payload)
	for _, c := range cases {
		var img bytes.Buffer
		var m OptString
		callWithin(t, c.name+": the screenshot", func() { m, err = l.DomainScreenshot(Domain{Name: "g"}, &img, 0, 0) })
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(m) != 1 || m[0] != "image/x-portable-pixmap" {
			t.Errorf("%s: MIME type %q, want image/x-portable-pixmap", c.name, m)
		}
		if img.String() != want {
			t.Errorf("%s: image %q, want %q", c.name, img.String(), want)
		}
		var v uint64
		callWithin(t, c.name+": the next call", func() { v, err = l.ConnectGetLibVersion() })
		if err != nil || v != 9000000 {
			t.Errorf("%s: the next call: %d, %v", c.name, v, err)
		}
	}
}

// A caller that gives a stream up (its writer failed) gets the error, and
// the packets libvirtd still sends for that stream do not block the
// connection's next call.
func TestStreamGivenUpDoesNotWedgeTheConnection(t *testing.T) {
	mime, _ := encode(&struct{ M OptString }{OptString{"image/png"}})
	packets := []fakePacket{{socket.Reply, socket.StatusOK, mime}}
	for i := 0; i < 20; i++ {
		packets = append(packets, fakePacket{socket.Stream, socket.StatusContinue, bytes.Repeat([]byte{byte(i)}, 1000)})
	}
	packets = append(packets, fakePacket{socket.Stream, socket.StatusOK, nil})
	l := fakeLibvirtd(t, [][]fakePacket{packets})
	var err error
	callWithin(t, "the screenshot", func() { _, err = l.DomainScreenshot(Domain{Name: "g"}, failingWriter{}, 0, 0) })
	if err == nil || err.Error() != "disk full" {
		t.Fatalf("screenshot into a failing writer: %v, want disk full", err)
	}
	var v uint64
	callWithin(t, "the next call", func() { v, err = l.ConnectGetLibVersion() })
	if err != nil || v != 9000000 {
		t.Fatalf("the next call: %d, %v", v, err)
	}
}
