//go:build !linux

package control

import (
	"errors"
	"net"

	"mailinspector/internal/cli"
)

// peer: without SO_PEERCRED the peer cannot be named, and is refused. The
// appliance runs on Linux; other systems build for the sandbox agent only.
func peer(c net.Conn) (cli.Caller, string, error) {
	return cli.Caller{Via: "control socket"}, "", errors.New("the control socket names its peer on Linux only")
}
