// Package power restarts the daemon, reboots and powers off the appliance
// through systemd's D-Bus API, never a shell: the daemon's unit restarted
// by systemd (github.com/coreos/go-systemd/v22/dbus), a reboot or power-off
// scheduled by logind a few seconds ahead, so that the command that asked
// is answered, audited and its SSH session closed before the machine goes
// down. On the appliance the daemon's user may do exactly these, by the
// polkit rule rootfs/ installs
// (/usr/share/polkit-1/rules.d/50-mailinspector.rules); a refusal comes
// back to the command.
package power

import (
	"context"
	"fmt"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// Unit is the daemon's systemd unit.
const Unit = "mailinspector.service"

// What an administrator can ask.
const (
	Restart  = "restart"  // the daemon's unit, restarted
	Reboot   = "reboot"   // the machine, in Ahead
	Shutdown = "shutdown" // powered off, in Ahead
)

// Ahead is how long logind waits before a reboot or a power-off.
const Ahead = 3 * time.Second

// Do asks systemd (restart) or logind (reboot, shutdown) for action and
// returns once it is accepted.
func Do(ctx context.Context, action string) error {
	switch action {
	case Restart:
		conn, err := sdbus.NewSystemConnectionContext(ctx)
		if err != nil {
			return noBus(action, err)
		}
		defer conn.Close()
		// systemd queues the job and stops the daemon as for any stop:
		// this command is answered before the control socket closes.
		if _, err := conn.RestartUnitContext(ctx, Unit, "replace", nil); err != nil {
			return fmt.Errorf("%s: systemd refused: %w", action, err)
		}
		return nil
	case Reboot, Shutdown:
		conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
		if err != nil {
			return noBus(action, err)
		}
		defer conn.Close()
		kind := "reboot"
		if action == Shutdown {
			kind = "poweroff"
		}
		// org.freedesktop.login1.Manager.ScheduleShutdown(type, usec of
		// CLOCK_REALTIME): authorised now, carried out at the time.
		at := uint64(time.Now().Add(Ahead).UnixMicro())
		call := conn.Object("org.freedesktop.login1", "/org/freedesktop/login1").
			CallWithContext(ctx, "org.freedesktop.login1.Manager.ScheduleShutdown", 0, kind, at)
		if call.Err != nil {
			return fmt.Errorf("%s: logind refused: %w", action, call.Err)
		}
		return nil
	}
	return fmt.Errorf("unknown power action %q", action)
}

func noBus(action string, err error) error {
	return fmt.Errorf("%s needs systemd's D-Bus (the appliance's systemd runs this daemon): %w", action, err)
}
