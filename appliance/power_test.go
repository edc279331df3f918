package appliance

import (
	"context"
	"os"
	"strings"
	"testing"

	"mailinspector/internal/cli"
)

// TestPowerWithoutSystemd: restart, reboot and shutdown go through
// systemd's D-Bus API only (the image test restarts and powers off a real
// appliance with them). Where no systemd runs the daemon, as under make
// run, they fail with the reason, change nothing, and are audited; an
// Operator is refused them.
func TestPowerWithoutSystemd(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs this machine: the test does not ask it to reboot")
	}
	a := startApp(t, t.TempDir(), nil)
	admin := cli.WithCaller(context.Background(), cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator})
	for _, cmd := range []string{"restart", "reboot", "shutdown"} {
		_, err := cli.Exec(admin, a, cmd)
		if err == nil || !strings.Contains(err.Error(), "D-Bus") {
			t.Errorf("%s without systemd: %v", cmd, err)
		}
	}
	op := cli.WithCaller(context.Background(), cli.Caller{Who: "op", Via: "test", Role: cli.RoleOperator})
	if _, err := cli.Exec(op, a, "reboot"); err == nil || !strings.Contains(err.Error(), "administrator role") {
		t.Errorf("an Operator's reboot: %v", err)
	}
	log, err := a.AuditLog(context.Background(), cli.AuditQuery{Kind: "power"})
	must(t, err)
	if len(log) != 4 || log[0].Who != "op" || log[3].Command != "restart" || log[3].OK {
		t.Errorf("audit %+v", log)
	}
}
