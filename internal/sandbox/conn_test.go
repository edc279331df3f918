package sandbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"mailinspector/internal/testutil"
)

// A call with a deadline of its own (a screenshot's) that libvirtd does
// not answer ends at that deadline, not the connection's call timeout, and
// drops the connection: the next call dials again and works.
func TestCallWithinDropsAStuckConnection(t *testing.T) {
	lvd := testutil.StartLibvirtd(t)
	u, err := ParseURI(lvd.URI())
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(u, time.Minute)
	ctx := context.Background()
	version := func(l *libvirt.Libvirt) error { _, err := l.ConnectGetLibVersion(); return err }
	if err := c.Call(ctx, "version", version); err != nil {
		t.Fatal(err)
	}
	lvd.Freeze()
	start := time.Now()
	err = c.CallWithin(ctx, "screenshot", 300*time.Millisecond, version)
	took := time.Since(start)
	lvd.Thaw()
	if !errors.Is(err, ErrStuck) || took > 30*time.Second {
		t.Fatalf("a stuck call: %v after %s", err, took)
	}
	if err := c.Call(ctx, "version again", version); err != nil {
		t.Fatalf("after the drop: %v", err)
	}
}
