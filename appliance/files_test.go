package appliance

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mailinspector/internal/cli"
)

// TestFilesForSettings: file put stores standard input where a setting can
// name it (a SIEM collector's CA here, which the commit then validates),
// show files lists it, file delete removes it; names cannot leave the
// directory; Operators may neither put nor list.
func TestFilesForSettings(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir, nil)
	admin := cli.WithCaller(context.Background(), cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator})
	exec := func(ctx context.Context, line, input string) (string, error) {
		v, err := cli.Exec(cli.WithInput(ctx, input), a, line)
		if err != nil {
			return "", err
		}
		return cli.Render(v, false)
	}
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	out, err := exec(admin, "file put siem-ca.pem", pem)
	path := filepath.Join(dir, FilesDir, "siem-ca.pem")
	if err != nil || !strings.Contains(out, "stored "+path) {
		t.Fatalf("file put: %q %v", out, err)
	}
	if b, _ := os.ReadFile(path); string(b) != pem {
		t.Fatalf("stored %q", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	if out, _ := exec(admin, "show files", ""); !strings.Contains(out, path+"  "+strconv.Itoa(len(pem))+" ") {
		t.Errorf("show files:\n%s", out)
	}
	for _, bad := range []string{"../settings.conf", "a/b", ".hidden", "UPPER", ""} {
		if _, err := exec(admin, "file put '"+bad+"'", "x"); err == nil {
			t.Errorf("file put %q was taken", bad)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "settings.conf")); err == nil {
		if b, _ := os.ReadFile(filepath.Join(dir, "settings.conf")); string(b) == "x" {
			t.Fatal("file put wrote outside its directory")
		}
	}
	op := cli.WithCaller(context.Background(), cli.Caller{Who: "op", Via: "test", Role: cli.RoleOperator})
	if _, err := exec(op, "show files", ""); err == nil {
		t.Error("an Operator listed the files")
	}
	if _, err := exec(op, "file put x.pem", "x"); err == nil {
		t.Error("an Operator put a file")
	}
	if _, err := exec(admin, "file delete siem-ca.pem", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("file delete left it")
	}
	if _, err := exec(admin, "file delete siem-ca.pem", ""); err == nil || !strings.Contains(err.Error(), "no file") {
		t.Errorf("deleting it twice: %v", err)
	}
}
