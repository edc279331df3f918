package updates

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"mailinspector/internal/durable"
	"mailinspector/internal/engine/clamd"
	"mailinspector/internal/updates/signed"
)

// ClamAVKind installs signature databases into the database directory of
// the clamd the appliance drives (engine.clamd_database): the project's
// own (kind clamav), any an operator adds (clamav-NAME, e.g. a private
// mirror's) and YARA rules, which clamd loads too (kind yara).
//
// A kind's versions are kept in .mailinspector/KIND/VERSION inside the
// database directory (clamd reads only files with a database extension in
// the directory itself, never its folders); the live version's files are
// hard links in the directory named mi-KIND--NAME, each replaced by a
// rename, so clamd never reads half a file. clamd reads them again on
// RELOAD.
type ClamAVKind struct {
	Database string        // clamd's DatabaseDirectory
	Live     *clamd.Client // the clamd to RELOAD; nil: none configured
	Clamd    string        // the clamd binary for test loads ("": found on PATH or /usr/sbin)
	Wait     time.Duration // how long a load may take (a private clamd's start, a RELOAD); 0: 5 minutes
}

// IsClamAVKind says whether kind holds databases for clamd.
func IsClamAVKind(kind string) bool {
	return kind == "clamav" || kind == "yara" || strings.HasPrefix(kind, "clamav-")
}

// clamdExt are the file name extensions clamd loads from its database
// directory (libclamav's CLI_DBEXT); a file with any other is refused.
var clamdExt = map[string]bool{}

func init() {
	for _, e := range strings.Fields(`db hdb hdu hsb hsu mdb mdu msb msu ndb ndu ldb ldu sdb zmd rmd idb fp sfp gdb pdb wdb
		cbc ftm cfg cvd cld cud cdb cat crb ign ign2 info yar yara pwdb imp`) {
		clamdExt["."+e] = true
	}
}

const linkPrefix = "mi-"

func (c *ClamAVKind) root(kind string) string {
	return filepath.Join(c.Database, ".mailinspector", kind)
}

func (c *ClamAVKind) wait() time.Duration {
	if c.Wait > 0 {
		return c.Wait
	}
	return 5 * time.Minute
}

func (c *ClamAVKind) bin() (string, error) {
	if c.Clamd != "" {
		return c.Clamd, nil
	}
	if p, err := exec.LookPath("clamd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/clamd"); err == nil {
		return "/usr/sbin/clamd", nil
	}
	return "", errors.New("no clamd binary to test-load the databases with")
}

// validate test-loads the version's databases in a private clamd and
// scans its canaries and a clean sample: a database clamd cannot load, or
// that finds what it should not, never reaches the live clamd.
func (c *ClamAVKind) validate(ctx context.Context, dir string, m *signed.Manifest) error {
	for _, f := range m.Payload() {
		if !clamdExt[strings.ToLower(filepath.Ext(f.Name))] {
			return fmt.Errorf("%s is not a ClamAV database (extension %q)", f.Name, filepath.Ext(f.Name))
		}
	}
	bin, err := c.bin()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), ".check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	db := filepath.Join(work, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		return err
	}
	for _, f := range m.Payload() {
		if err := os.Link(filepath.Join(dir, f.Name), filepath.Join(db, f.Name)); err != nil {
			return err
		}
	}
	// The socket apart (a unix socket's path is at most 107 bytes; the
	// database folder's can be long).
	sockDir, err := os.MkdirTemp("", "mi-clamd-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "clamd.sock")
	conf := fmt.Sprintf("LocalSocket %s\nDatabaseDirectory %s\nTemporaryDirectory %s\nLogFile %s\nForeground yes\nMaxThreads 2\nSelfCheck 0\n",
		sock, db, work, filepath.Join(work, "clamd.log"))
	if os.Geteuid() == 0 {
		conf += "User root\n" // clamd would drop to its own user, who cannot read this folder
	}
	if err := os.WriteFile(filepath.Join(work, "clamd.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.wait())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-c", filepath.Join(work, "clamd.conf"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("test load: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	cl, _ := clamd.New("unix:" + sock)
	for {
		if cl.Ping(ctx) == nil {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("clamd could not load the databases: %s", loadError(out.String(), filepath.Join(work, "clamd.log")))
		case <-ctx.Done():
			return fmt.Errorf("clamd did not load the databases within %s", c.wait())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := scanCanaries(ctx, cl, dir, m, false); err != nil {
		return err
	}
	found := map[string]bool{}
	for name, sample := range projectCanaries {
		if res, err := cl.Scan(ctx, strings.NewReader(sample)); err == nil && res.Infected {
			found[name] = true
		}
	}
	for name := range c.liveFound(m.Kind) {
		if !found[name] {
			return fmt.Errorf("this version no longer finds the project's canary %s, which the live one finds", name)
		}
	}
	b, _ := json.Marshal(found)
	return os.WriteFile(filepath.Join(dir, canariesFile), b, 0o644)
}

// canariesFile keeps, in a version's folder, which project canaries it
// found at its validation.
const canariesFile = ".canaries.json"

// liveFound is what the live version of kind found of the project's
// canaries (nil: none live, or not recorded).
func (c *ClamAVKind) liveFound(kind string) map[string]bool {
	b, err := os.ReadFile(filepath.Join(c.root(kind), "current", canariesFile))
	if err != nil {
		return nil
	}
	var found map[string]bool
	json.Unmarshal(b, &found)
	return found
}

// cleanSample must never be found: a database that finds it would find
// everything.
const cleanSample = "Mail Inspector update check: a clean sample.\r\n"

// projectCanaries are the project's own samples: what the live version
// of a kind found of them at its validation, the next version must find
// too (canariesFile in each version's folder keeps it).
var projectCanaries = map[string]string{
	"EICAR": `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`,
}

// scanCanaries scans the bundle's canaries and the clean sample with cl.
// wait: a canary not found yet may be found once a RELOAD completes, so
// ask again until the load deadline.
func scanCanaries(ctx context.Context, cl *clamd.Client, dir string, m *signed.Manifest, wait bool) error {
	samples := map[string]string{"": ""}
	for _, k := range m.Canaries {
		samples[k.File] = k.Expect
	}
	for file, expect := range samples {
		for {
			var b []byte
			if file == "" {
				b = []byte(cleanSample)
			} else {
				var err error
				if b, err = os.ReadFile(filepath.Join(dir, file)); err != nil {
					return err
				}
			}
			res, err := cl.Scan(ctx, bytes.NewReader(b))
			if err != nil {
				return fmt.Errorf("scanning canary %q: %w", file, err)
			}
			var got string
			if res.Infected {
				got = res.Signature
			}
			if got == expect {
				break
			}
			if !wait || expect == "" {
				if file == "" {
					return fmt.Errorf("a clean sample was found as %s", got)
				}
				return fmt.Errorf("canary %s: found %q, want %q", file, got, expect)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("canary %s: still %q after the reload, want %q", file, got, expect)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// loadError is the lines of clamd's output and log that say what went
// wrong.
func loadError(out, logFile string) string {
	log, _ := os.ReadFile(logFile)
	var lines []string
	for _, l := range strings.Split(out+"\n"+string(log), "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "rror") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) == 0 {
		return "it exited (no error line)"
	}
	if len(lines) > 4 {
		lines = lines[:4]
	}
	return strings.Join(lines, "; ")
}

// activate links the version's files into the database directory and
// removes the kind's links no longer in it (dir "": the kind has none
// live), then has the live clamd reload.
func (c *ClamAVKind) activate(ctx context.Context, kind, dir string, m *signed.Manifest) error {
	prefix := linkPrefix + kind + "--"
	want := map[string]bool{}
	if dir != "" {
		for _, f := range m.Payload() {
			name := prefix + f.Name
			want[name] = true
			tmp := filepath.Join(c.Database, ".new-"+name)
			os.Remove(tmp)
			if err := os.Link(filepath.Join(dir, f.Name), tmp); err != nil {
				return err
			}
			if err := os.Rename(tmp, filepath.Join(c.Database, name)); err != nil {
				os.Remove(tmp)
				return err
			}
		}
	}
	ents, err := os.ReadDir(c.Database)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) && !want[e.Name()] {
			if err := os.Remove(filepath.Join(c.Database, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := durable.SyncDir(c.Database); err != nil {
		return err
	}
	if c.Live == nil {
		return nil
	}
	// A clamd that does not answer (starting: the appliance's first boot)
	// reads the files when it starts; health waits for it either way.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c.Live.Reload(rctx)
	return nil
}

// health waits until the live clamd finds the canaries as the version
// says (its RELOAD runs in the background) and still answers.
func (c *ClamAVKind) health(ctx context.Context, m *signed.Manifest, dir string) error {
	if c.Live == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.wait())
	defer cancel()
	for {
		err := c.Live.Ping(ctx)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("clamd did not answer within %s: %w", c.wait(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	return scanCanaries(ctx, c.Live, dir, m, true)
}
