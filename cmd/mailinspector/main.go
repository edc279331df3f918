//go:build !windows

// Command mailinspector is the appliance's single binary; this file only
// wires subcommands to the packages that do the work.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"mailinspector/appliance"
	"mailinspector/internal/cli"
	"mailinspector/internal/control"
	"mailinspector/internal/durable"
	"mailinspector/internal/logring"
	"mailinspector/internal/policy"
	"mailinspector/internal/settings"
)

// exitBadSettings is EX_CONFIG (sysexits.h): the unit file's
// RestartPreventExitStatus keeps systemd from restart-looping on it.
const exitBadSettings = 78

const usage = `usage: mailinspector COMMAND [options]

commands:
  serve --data-dir DIR [--set KEY=VALUE]...   run the appliance daemon
  shell --data-dir DIR [-o json] [-c COMMAND] management command line
  hub --data-dir DIR --listen ADDR            the reference intelligence hub (hub help: its commands)
  console                                     the first-boot wizard on tty1/ttyS0 (runs as root)
  agent --listen ADDR:PORT [--key-file F]     the sandbox guest agent (inside virtual-analyzer VMs)
  bundle keygen|sign|verify|keyring ...       signed update bundles (bundle help)
  settings describe                           every settings key, its default and meaning
  settings check --data-dir DIR               validate the settings file, list every error
  version                                     print the version
`

// loginShellName is the name the binary answers to as the admin user's
// login shell (a symlink in the image): sshd runs it as
// `mailinspector-shell -c "COMMAND"`, a login as `-mailinspector-shell`.
const loginShellName = "mailinspector-shell"

func main() {
	if strings.TrimPrefix(filepath.Base(os.Args[0]), "-") == loginShellName {
		os.Exit(shell(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var code int
	switch os.Args[1] {
	case "serve":
		code = serve(os.Args[2:])
	case "shell":
		code = shell(os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	case "settings":
		code = settingsCmd(os.Args[2:])
	case "hub":
		code = hubCmd(os.Args[2:])
	case "console":
		code = consoleCmd(os.Args[2:])
	case "agent":
		code = agentCmd(os.Args[2:])
	case "bundle":
		code = bundleCmd(os.Args[2:])
	case "version", "--version":
		fmt.Println("mailinspector", appliance.Version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "mailinspector: unknown command %q\n\n%s", os.Args[1], usage)
		code = 2
	}
	os.Exit(code)
}

type setFlags map[string]string

func (s setFlags) String() string { return "" }
func (s setFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return errors.New("want KEY=VALUE")
	}
	s[strings.TrimSpace(k)] = strings.TrimSpace(val)
	return nil
}

func defaultDataDir() string {
	if d := os.Getenv("MAILINSPECTOR_DATA_DIR"); d != "" {
		return d
	}
	return "/var/lib/mailinspector"
}

// reload reads the settings and policies again (SIGHUP, systemctl reload)
// and restarts the subsystems with them, telling systemd RELOADING=1 and
// then READY=1. Bad settings change nothing: the daemon goes on with the
// ones it has and says why. Accepted mail is durable, so the restart of
// the subsystems loses nothing; SMTP sessions in progress finish first.
func reload(dir string, sets setFlags, app *appliance.Appliance, log *slog.Logger) (*appliance.Appliance, error) {
	daemon.SdNotify(false, fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d\nSTATUS=reloading settings", monotonicUsec()))
	log.Info("reloading settings")
	st, err := settings.Load(dir, sets)
	if err == nil {
		_, err = policy.Load(dir)
	}
	if err != nil {
		log.Error("reload refused: bad settings or policies; the running ones stay", "err", err)
		daemon.SdNotify(false, "READY=1\nSTATUS=reload refused (bad settings, the running ones stay): "+firstLine(err.Error()))
		return app, nil
	}
	old := app.Settings
	if err := app.StopForReload(); err != nil {
		log.Error("reload: stop", "err", err)
	}
	next, err := appliance.Start(dir, st, log)
	if err == nil {
		log.Info("settings reloaded")
		return next, nil
	}
	log.Error("reload: start with the new settings failed; starting again with the previous ones", "err", err)
	next, err2 := appliance.Start(dir, old, log)
	if err2 != nil {
		return nil, errors.Join(err, err2)
	}
	daemon.SdNotify(false, "STATUS=reload failed, running with the previous settings: "+firstLine(err.Error()))
	return next, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which systemd wants
// with RELOADING=1.
func monotonicUsec() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() / 1000
}

func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(), "data directory (settings, database, spool)")
	sets := setFlags{}
	fs.Var(sets, "set", "override a settings key at start, KEY=VALUE (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// The log goes to standard error (journald keeps it) and, the last
	// lines, to memory for show logs.
	ring := logring.New(5000, 2<<20)
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(os.Stderr, ring), nil))
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		log.Error("data dir", "err", err)
		return 1
	}
	if err := durable.PrivateDir(dir); err != nil {
		log.Error("data dir", "err", err)
		return 1
	}
	st, err := settings.Load(dir, sets)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailinspector: bad settings:\n%v\n", err)
		return exitBadSettings
	}
	if _, err := policy.LoadOrDefault(dir, appliance.PolicyDefaults(st)); err != nil {
		fmt.Fprintf(os.Stderr, "mailinspector: bad policies:\n%v\n", err)
		return exitBadSettings
	}
	app, err := appliance.Start(dir, st, log)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	// A settings commit reloads as SIGHUP does.
	reloadHook := func(a *appliance.Appliance) {
		a.SetLogs(ring)
		a.SetReload(func() {
			select {
			case sig <- syscall.SIGHUP:
			default:
			}
		})
	}
	reloadHook(app)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	for s := range sig {
		if s == syscall.SIGHUP {
			if app, err = reload(dir, sets, app, log); err != nil {
				log.Error("reload failed and the previous settings could not be started again", "err", err)
				return 1
			}
			reloadHook(app)
			continue
		}
		log.Info("stopping", "signal", s.String())
		if err := app.Stop(); err != nil {
			log.Error("stop", "err", err)
			return 1
		}
		break
	}
	return 0
}

func shell(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shell", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", defaultDataDir(), "data directory of the running daemon")
	out := fs.String("o", "text", "output format: text or json")
	cmd := fs.String("c", "", "run one command and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// Over SSH the whole remote command is one -c string: `ssh admin@host
	// -- -o json show status` (or `show status -o json`) asks for JSON.
	if f := strings.Fields(*cmd); len(f) > 2 && f[0] == "-o" {
		*out, *cmd = f[1], strings.Join(f[2:], " ")
	} else if n := len(f); n > 2 && f[n-2] == "-o" {
		*out, *cmd = f[n-1], strings.Join(f[:n-2], " ")
	}
	if *out != "text" && *out != "json" {
		fmt.Fprintln(stderr, "shell: -o must be text or json")
		return 2
	}
	sock := filepath.Join(*dataDir, control.SocketName)
	oneShot := *cmd != "" || fs.NArg() > 0
	run := func(line string) int {
		secret, err := secretFor(line, stdin, stderr, oneShot)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		var input string
		if words := strings.Fields(strings.ToLower(line)); len(words) >= 2 && (words[0] == "configure" && words[1] == "policies" ||
			words[0] == "config" && words[1] == "import" || words[0] == "file" && words[1] == "put") {
			// A whole file on standard input: ssh admin@host configure
			// policies [confirmed MINUTES] < policies.conf, ssh admin@host
			// config import < appliance.conf.json.
			if !oneShot {
				fmt.Fprintf(stderr, "%s reads the file from standard input: mailinspector shell -c '%s' < FILE\n", strings.Join(words[:2], " "), strings.Join(words[:2], " "))
				return 2
			}
			// The control socket takes requests of up to 1 MiB.
			const most = 960 << 10
			b, err := io.ReadAll(io.LimitReader(stdin, most+1))
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			if len(b) > most {
				fmt.Fprintf(stderr, "the file on standard input is over %d KiB: nothing changed\n", most>>10)
				return 2
			}
			if !utf8.Valid(b) {
				fmt.Fprintln(stderr, "the file on standard input is not text (UTF-8): a PEM file is; nothing changed")
				return 2
			}
			input = string(b)
			if words[0] == "configure" {
				// configure policies confirmed 5 -> policies commit confirmed 5
				line = "policies commit " + strings.Join(strings.Fields(line)[2:], " ")
			}
		}
		if f := strings.Fields(line); len(f) == 3 && strings.EqualFold(f[0], "update") && strings.EqualFold(f[1], "import") && !filepath.IsAbs(f[2]) {
			// The daemon opens the file: it needs the path from here.
			if abs, err := filepath.Abs(f[2]); err == nil {
				line = strings.Join([]string{f[0], f[1], abs}, " ")
			}
		}
		resp, err := control.Call(sock, control.Request{Command: line, JSON: *out == "json", Origin: origin(), Secret: secret, Input: input})
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if !resp.OK {
			fmt.Fprintln(stderr, resp.Error)
			if resp.Usage {
				return 2
			}
			return 1
		}
		fmt.Fprintln(stdout, resp.Output)
		return 0
	}
	if *cmd != "" {
		return run(*cmd)
	}
	if fs.NArg() > 0 {
		return run(strings.Join(fs.Args(), " "))
	}
	call := func(line string, asJSON bool) (*control.Response, error) {
		return control.Call(sock, control.Request{Command: line, JSON: asJSON, Origin: origin()})
	}
	return interactive(lineSourceFor(stdin, stdout), stdout, run, func() (*configureSession, error) { return newConfigureSession(call, stdout) })
}

func settingsCmd(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "describe":
		fmt.Print(settings.Describe())
		return 0
	case "check":
		fs := flag.NewFlagSet("settings check", flag.ContinueOnError)
		dataDir := fs.String("data-dir", defaultDataDir(), "data directory")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		data, err := os.ReadFile(filepath.Join(*dataDir, settings.FileName))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		vals, err := settings.Parse(filepath.Join(*dataDir, settings.FileName), data)
		if err == nil {
			_, err = settings.Build(vals)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return exitBadSettings
		}
		fmt.Println("settings are valid")
		return 0
	}
	fmt.Fprint(os.Stderr, usage)
	return 2
}

// origin is where the person at the command line is, for the audit log:
// the SSH client's address, or the terminal.
func origin() string {
	if c := strings.Fields(os.Getenv("SSH_CLIENT")); len(c) > 0 {
		return "ssh from " + c[0]
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		if t, err := os.Readlink("/proc/self/fd/0"); err == nil {
			return t
		}
	}
	return ""
}

// secretFor reads the new password account password needs: typed twice on
// a terminal, else one line of standard input (with -c, so that a script
// can set one). It never goes on the command line, which is logged.
func secretFor(line string, stdin io.Reader, stderr io.Writer, oneShot bool) (string, error) {
	w, err := cli.Split(line)
	if err != nil || len(w) < 2 || !strings.EqualFold(w[0], "account") || !strings.EqualFold(w[1], "password") {
		return "", nil
	}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "new password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "the same again: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(p1) != string(p2) {
			return "", errors.New("the two passwords differ; nothing changed")
		}
		return string(p1), nil
	}
	if !oneShot {
		return "", errors.New("account password reads the password from standard input: use -c 'account password NAME' with the password piped in")
	}
	pw, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && pw == "" {
		return "", errors.New("account password: no password on standard input")
	}
	return strings.TrimRight(pw, "\r\n"), nil
}
