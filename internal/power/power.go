// Package power restarts the daemon, reboots and powers off the appliance
// through systemd's D-Bus API (github.com/coreos/go-systemd/v22/dbus),
// never a shell. On the appliance the daemon's user may do exactly these
// three things, by the polkit rule rootfs/ installs
// (/etc/polkit-1/rules.d/50-mailinspector.rules).
//
// The calls queue a systemd job and return: systemd then stops the daemon
// as for any stop (SIGTERM), and the command that asked is answered and
// audited before the control socket closes.
package power

import (
	"context"
	"fmt"

	"github.com/coreos/go-systemd/v22/dbus"
)

// Unit is the daemon's systemd unit.
const Unit = "mailinspector.service"

// What an administrator can ask.
const (
	Restart  = "restart"  // the daemon's unit, restarted
	Reboot   = "reboot"   // reboot.target
	Shutdown = "shutdown" // poweroff.target
)

// Do asks systemd for action and waits until the job is queued.
func Do(ctx context.Context, action string) error {
	conn, err := dbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return fmt.Errorf("%s needs systemd's D-Bus (the appliance's systemd runs this daemon): %w", action, err)
	}
	defer conn.Close()
	switch action {
	case Restart:
		_, err = conn.RestartUnitContext(ctx, Unit, "replace", nil)
	case Reboot:
		_, err = conn.StartUnitContext(ctx, "reboot.target", "replace-irreversibly", nil)
	case Shutdown:
		_, err = conn.StartUnitContext(ctx, "poweroff.target", "replace-irreversibly", nil)
	default:
		return fmt.Errorf("unknown power action %q", action)
	}
	if err != nil {
		return fmt.Errorf("%s: systemd refused: %w", action, err)
	}
	return nil
}
