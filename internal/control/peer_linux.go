//go:build linux

package control

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"

	"mailinspector/internal/cli"
)

// AdminUser is the appliance's OS user whose login shell is the command
// line: it acts as the admin account, as root does.
const AdminUser = "admin"

// peer is who is at the other end of a control connection, from the
// kernel (SO_PEERCRED), never from what the client says: root, the
// daemon's own user and the admin user act as the admin account; anyone
// else is refused here, and named (osUser) for Server.Account.
func peer(c net.Conn) (caller cli.Caller, osUser string, err error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return cli.Caller{}, "", fmt.Errorf("not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return cli.Caller{}, "", err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil {
		return cli.Caller{}, "", err
	}
	if cerr != nil {
		return cli.Caller{}, "", cerr
	}
	name := strconv.Itoa(int(cred.Uid))
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	via := fmt.Sprintf("control socket, uid %d (%s)", cred.Uid, name)
	if cred.Uid != 0 && int(cred.Uid) != os.Getuid() && name != AdminUser {
		return cli.Caller{Via: via}, name, fmt.Errorf("uid %d (%s) may not use the command line", cred.Uid, name)
	}
	return cli.Caller{Who: "admin", Via: via, Role: cli.RoleAdministrator}, name, nil
}
