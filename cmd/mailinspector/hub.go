//go:build !windows

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"mailinspector/appliance"
	"mailinspector/internal/hub"
	"mailinspector/internal/licence"
	"mailinspector/internal/mlfeatures"
	"mailinspector/internal/updates/signed"
)

const hubUsage = `usage: mailinspector hub COMMAND

  mailinspector hub --data-dir DIR --listen ADDR [--tls-cert F --tls-key F]
                                           serve the hub API (docs/hub-api.md)
  hub keys add --data-dir DIR NAME         create an appliance's API key and print it
  hub keys list --data-dir DIR             list key names
  hub import --data-dir DIR KIND FILE      load a feed (replaces that feed's rows); KIND:
                                           urlhaus-csv malwarebazaar-csv openphish-txt
                                           phishtank-csv spamhaus-drop-json known-good-sha256
  hub bundle publish --data-dir DIR FILE   offer a signed update bundle (mailinspector bundle sign) to
                                           appliances; the newest of each kind is offered
  hub bundle keyring --data-dir DIR FILE   publish the roots' keyring document (bundle keyring)
  hub licence issue --data-dir DIR --appliance ID [--edition E] [--seats N] [--days N]
                                           sign an activation code for an appliance id (show licence
                                           on the appliance gives it) and print it
  hub model install --data-dir DIR --pub FILE BUNDLE
                                           install the ML model of a signed ml-model bundle (model.json)
                                           that FILE's key signed; the hub scores with it from its next start
  hub ml-train [--data-dir DIR | --out FILE] LABELLED.jsonl
                                           train the ML model the hub scores files with
`

func hubCmd(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "keys":
			return hubKeys(args[1:])
		case "import":
			return hubImport(args[1:])
		case "ml-train":
			return hubTrain(args[1:])
		case "bundle":
			return hubBundle(args[1:])
		case "licence", "license":
			return hubLicence(args[1:])
		case "model":
			return hubModel(args[1:])
		case "help", "-h", "--help":
			fmt.Print(hubUsage)
			return 0
		}
	}
	fs := flag.NewFlagSet("hub", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "the hub's data directory")
	listen := fs.String("listen", "127.0.0.1:8443", "address to serve the API on")
	cert := fs.String("tls-cert", "", "PEM certificate (HTTPS); empty: plain HTTP")
	key := fs.String("tls-key", "", "PEM key for --tls-cert")
	if err := fs.Parse(args); err != nil || *dataDir == "" {
		fmt.Fprint(os.Stderr, hubUsage)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	st, err := hub.OpenStore(*dataDir)
	if err != nil {
		log.Error("hub", "err", err)
		return 1
	}
	defer st.Close()
	srv, err := hub.NewServer(st, *dataDir, log)
	if err != nil {
		log.Error("hub", "err", err)
		return 1
	}
	srv.Version = appliance.Version
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("hub", "err", err)
		return 1
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	}()
	scheme := "http"
	if *cert != "" {
		scheme = "https"
	}
	log.Info("hub serving", "url", scheme+"://"+ln.Addr().String()+"/v1/", "data_dir", *dataDir)
	if *cert != "" {
		err = hs.ServeTLS(ln, *cert, *key)
	} else {
		err = hs.Serve(ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		log.Error("hub", "err", err)
		return 1
	}
	return 0
}

func hubStore(fs *flag.FlagSet, args []string, want int) (*hub.Store, []string, bool) {
	dataDir := fs.String("data-dir", "", "the hub's data directory")
	if err := fs.Parse(args); err != nil || *dataDir == "" || fs.NArg() != want {
		fmt.Fprint(os.Stderr, hubUsage)
		return nil, nil, false
	}
	st, err := hub.OpenStore(*dataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailinspector hub:", err)
		return nil, nil, false
	}
	return st, fs.Args(), true
}

func hubKeys(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, hubUsage)
		return 2
	}
	want := map[string]int{"add": 1, "list": 0}[args[0]]
	st, rest, ok := hubStore(flag.NewFlagSet("hub keys", flag.ContinueOnError), args[1:], want)
	if !ok {
		return 2
	}
	defer st.Close()
	switch args[0] {
	case "add":
		k, err := st.AddKey(context.Background(), rest[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, "mailinspector hub:", err)
			return 1
		}
		fmt.Println(k)
	case "list":
		names, err := st.Keys(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, "mailinspector hub:", err)
			return 1
		}
		for _, n := range names {
			fmt.Println(n)
		}
	default:
		fmt.Fprint(os.Stderr, hubUsage)
		return 2
	}
	return 0
}

func hubImport(args []string) int {
	st, rest, ok := hubStore(flag.NewFlagSet("hub import", flag.ContinueOnError), args, 2)
	if !ok {
		return 2
	}
	defer st.Close()
	n, err := st.Import(context.Background(), rest[0], rest[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailinspector hub import:", err)
		return 1
	}
	fmt.Printf("%s: %d rows\n", rest[0], n)
	return 0
}

func hubTrain(args []string) int {
	fs := flag.NewFlagSet("hub ml-train", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "write model.json into the hub's data directory")
	out := fs.String("out", "", "write the model to this file instead")
	version := fs.String("version", time.Now().UTC().Format("2006-01-02"), "model version")
	about := fs.String("trained-on", "", "what the labelled set is, said honestly (kept in the model)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 || (*dataDir == "") == (*out == "") {
		fmt.Fprint(os.Stderr, hubUsage)
		return 2
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailinspector hub ml-train:", err)
		return 1
	}
	defer f.Close()
	var samples []mlfeatures.Sample
	sc := bufio.NewScanner(f)
	for no := 1; sc.Scan(); no++ {
		var s mlfeatures.Sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil || (s.Label != 0 && s.Label != 1) {
			fmt.Fprintf(os.Stderr, "mailinspector hub ml-train: %s line %d: want {\"label\": 0|1, \"features\": {…}}\n", fs.Arg(0), no)
			return 1
		}
		samples = append(samples, s)
	}
	desc := fmt.Sprintf("%d labelled rows from %s", len(samples), filepath.Base(fs.Arg(0)))
	if *about != "" {
		desc += ": " + *about
	}
	m := mlfeatures.Train(samples, *version, desc)
	b, _ := json.MarshalIndent(m, "", "  ")
	path := *out
	if path == "" {
		path = filepath.Join(*dataDir, "model.json")
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "mailinspector hub ml-train:", err)
		return 1
	}
	correct := 0
	for _, s := range samples {
		if (m.Score(s.Features) >= m.Threshold) == (s.Label == 1) {
			correct++
		}
	}
	fmt.Printf("model %s: %d samples, %d classified right by the model itself (training accuracy, not a measure of real-world detection)\n", m.Version, len(samples), correct)
	return 0
}

func hubBundle(args []string) int {
	if len(args) == 0 || (args[0] != "publish" && args[0] != "keyring") {
		fmt.Fprint(os.Stderr, hubUsage)
		return 2
	}
	fs := flag.NewFlagSet("hub bundle", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "the hub's data directory")
	if err := fs.Parse(args[1:]); err != nil || *dataDir == "" || fs.NArg() != 1 {
		fmt.Fprint(os.Stderr, hubUsage)
		return 2
	}
	if args[0] == "keyring" {
		if err := hub.PublishKeyring(*dataDir, fs.Arg(0)); err != nil {
			fmt.Fprintln(os.Stderr, "hub bundle keyring:", err)
			return 1
		}
		fmt.Println("keyring document published")
		return 0
	}
	m, err := hub.Publish(*dataDir, fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "hub bundle publish:", err)
		return 1
	}
	fmt.Printf("published %s version %d (%s)\n", m.Kind, m.Version, m.Channel)
	return 0
}

func hubLicence(args []string) int {
	if len(args) == 0 || args[0] != "issue" {
		fmt.Fprint(os.Stderr, hubUsage)
		return 2
	}
	fs := flag.NewFlagSet("hub licence issue", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "the hub's data directory")
	id := fs.String("appliance", "", "the appliance id, MI-XXXX-XXXX-XXXX")
	edition := fs.String("edition", "standard", "edition")
	seats := fs.Int("seats", 100, "protected mailboxes")
	days := fs.Int("days", 365, "days from now until it expires")
	if err := fs.Parse(args[1:]); err != nil || *dataDir == "" || *id == "" || fs.NArg() != 0 {
		fmt.Fprint(os.Stderr, hubUsage)
		return 2
	}
	st, err := hub.OpenStore(*dataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hub licence issue:", err)
		return 1
	}
	defer st.Close()
	now := time.Now()
	code, err := st.IssueLicence(context.Background(), *dataDir, licence.Licence{Appliance: *id, Edition: *edition, Seats: *seats,
		Issued: now, Expires: now.AddDate(0, 0, *days)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "hub licence issue:", err)
		return 1
	}
	fmt.Println(code)
	return 0
}

func hubModel(args []string) int {
	if len(args) == 0 || args[0] != "install" {
		fmt.Fprint(os.Stderr, hubUsage)
		return 2
	}
	fs := flag.NewFlagSet("hub model install", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "the hub's data directory")
	pub := fs.String("pub", "", "the public key file the bundle must be signed by")
	if err := fs.Parse(args[1:]); err != nil || *dataDir == "" || *pub == "" || fs.NArg() != 1 {
		fmt.Fprint(os.Stderr, hubUsage)
		return 2
	}
	keys, err := signed.ReadPublic(*pub)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hub model install:", err)
		return 1
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "hub model install:", err)
		return 1
	}
	defer f.Close()
	m, v, err := hub.InstallModel(*dataDir, keys, f, time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, "hub model install: not installed:", err)
		return 1
	}
	fmt.Printf("model %s (bundle version %d, %d samples) installed; the hub scores with it from its next start\n", m.Version, v, m.Samples)
	return 0
}
