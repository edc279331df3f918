// Command mailinspector is the appliance's single binary; this file only
// wires subcommands to the packages that do the work.
package main

import (
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

	"mailinspector/appliance"
	"mailinspector/internal/control"
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
  settings describe                           every settings key, its default and meaning
  settings check --data-dir DIR               validate the settings file, list every error
  version                                     print the version
`

func main() {
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

func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(), "data directory (settings, database, spool)")
	sets := setFlags{}
	fs.Var(sets, "set", "override a settings key at start, KEY=VALUE (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		log.Error("data dir", "err", err)
		return 1
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		log.Error("data dir", "err", err)
		return 1
	}
	st, err := settings.Load(dir, sets)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailinspector: bad settings:\n%v\n", err)
		return exitBadSettings
	}
	if _, err := policy.Load(dir); err != nil {
		fmt.Fprintf(os.Stderr, "mailinspector: bad policies:\n%v\n", err)
		return exitBadSettings
	}
	app, err := appliance.Start(dir, st, log)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Info("stopping", "signal", s.String())
	if err := app.Stop(); err != nil {
		log.Error("stop", "err", err)
		return 1
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
	if *out != "text" && *out != "json" {
		fmt.Fprintln(stderr, "shell: -o must be text or json")
		return 2
	}
	sock := filepath.Join(*dataDir, control.SocketName)
	run := func(line string) int {
		resp, err := control.Call(sock, control.Request{Command: line, JSON: *out == "json"})
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
	return interactive(stdin, stdout, run)
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
