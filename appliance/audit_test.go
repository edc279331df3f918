package appliance

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"mailinspector/internal/cli"
	"mailinspector/internal/control"
)

// TestAuditLogNamesWhoAndWhere: changes made over the control socket are
// in show audit, newest first, with the account, the peer the kernel named
// and the origin the client gave, and whether they worked; showing is not
// audited.
func TestAuditLogNamesWhoAndWhere(t *testing.T) {
	dir := t.TempDir()
	startApp(t, dir, nil)
	sock := filepath.Join(dir, control.SocketName)
	call := func(cmd string) *control.Response {
		t.Helper()
		resp, err := control.Call(sock, control.Request{Command: cmd, JSON: true, Origin: "ssh from 192.0.2.9"})
		must(t, err)
		return resp
	}
	if r := call("queue flush"); !r.OK {
		t.Fatalf("queue flush: %+v", r)
	}
	if r := call("quarantine delete nosuchid"); r.OK {
		t.Fatalf("deleting a message that does not exist: %+v", r)
	}
	call("show messages")
	r := call("show audit")
	var log []cli.AuditRecord
	must(t, json.Unmarshal([]byte(r.Output), &log))
	if len(log) != 2 {
		t.Fatalf("audit %+v", log)
	}
	del, flush := log[0], log[1]
	if del.Command != "quarantine delete nosuchid" || del.OK || del.Kind != "quarantine" || !strings.Contains(del.Detail, "nosuchid") {
		t.Errorf("newest %+v", del)
	}
	if flush.Command != "queue flush" || !flush.OK || flush.Kind != "queue" || flush.Who != "admin" ||
		!strings.Contains(flush.Via, "control socket, uid ") || !strings.Contains(flush.Via, "ssh from 192.0.2.9") {
		t.Errorf("oldest %+v", flush)
	}
	r = call("show audit kind queue")
	must(t, json.Unmarshal([]byte(r.Output), &log))
	if len(log) != 1 || log[0].Command != "queue flush" {
		t.Errorf("kind queue: %+v", log)
	}
}
