//go:build !windows

package main

import (
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailinspector/internal/settings"
	"mailinspector/internal/updates"
	"mailinspector/internal/updates/signed"
)

const bundleUsage = `usage: mailinspector bundle COMMAND (signed update bundles, docs/updates.md)

  bundle keygen --out FILE                 a new ed25519 signing key: FILE (private, 0600) and FILE.pub
  bundle sign --key FILE --kind KIND --version N --out BUNDLE [--channel C] [--expires 720h]
              [--min-appliance X.Y.Z] [--canary FILE=SIGNATURE]... DIR
                                           sign every file of DIR into BUNDLE (canaries: files of DIR
                                           scanned before install, "FILE=" must come back clean)
  bundle verify [--pub FILE] BUNDLE        check signature, hashes and sizes; without --pub, with the
                                           keys this appliance trusts (--data-dir)
  bundle keyring --root FILE [--root FILE]... --version N --signing-key PUB... [--retire ID]...
              [--expires 8760h] --out FILE  a keyring document the root keys sign
`

func bundleCmd(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, bundleUsage)
		return 2
	}
	switch args[0] {
	case "keygen":
		return bundleKeygen(args[1:])
	case "sign":
		return bundleSign(args[1:])
	case "verify":
		return bundleVerify(args[1:])
	case "keyring":
		return bundleKeyring(args[1:])
	case "help", "-h", "--help":
		fmt.Print(bundleUsage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "bundle: unknown command %q\n\n%s", args[0], bundleUsage)
	return 2
}

func bundleKeygen(args []string) int {
	fs := flag.NewFlagSet("bundle keygen", flag.ContinueOnError)
	out := fs.String("out", "", "private key file to write (FILE.pub gets the public key)")
	if err := fs.Parse(args); err != nil || *out == "" || fs.NArg() != 0 {
		fmt.Fprint(os.Stderr, bundleUsage)
		return 2
	}
	id, err := signed.GenerateKey(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle keygen:", err)
		return 1
	}
	fmt.Printf("key %s: %s (private, keep it offline), %s.pub (public)\n", id, *out, *out)
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func bundleSign(args []string) int {
	fs := flag.NewFlagSet("bundle sign", flag.ContinueOnError)
	key := fs.String("key", "", "private key file (bundle keygen)")
	kind := fs.String("kind", "", "kind: clamav, clamav-NAME, yara, …")
	version := fs.Uint64("version", 0, "version, higher than every earlier bundle of the kind")
	out := fs.String("out", "", "bundle file to write")
	channel := fs.String("channel", "stable", "channel")
	expires := fs.Duration("expires", 30*24*time.Hour, "how long the bundle may be installed after now")
	minApp := fs.String("min-appliance", "", "oldest appliance version that can use it")
	var canaries multiFlag
	fs.Var(&canaries, "canary", "FILE=SIGNATURE: a file of DIR the patterns must find as SIGNATURE (FILE=: must come back clean)")
	if err := fs.Parse(args); err != nil || *key == "" || *kind == "" || *version == 0 || *out == "" || fs.NArg() != 1 {
		fmt.Fprint(os.Stderr, bundleUsage)
		return 2
	}
	priv, err := signed.ReadPrivate(*key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle sign:", err)
		return 1
	}
	o := signed.SignOptions{Kind: *kind, Channel: *channel, Version: *version, Lifetime: *expires, MinAppliance: *minApp}
	for _, c := range canaries {
		file, sig, ok := strings.Cut(c, "=")
		if !ok {
			fmt.Fprintln(os.Stderr, "bundle sign: --canary wants FILE=SIGNATURE")
			return 2
		}
		o.Canaries = append(o.Canaries, signed.Canary{File: file, Expect: sig})
	}
	tmp := *out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle sign:", err)
		return 1
	}
	m, err := signed.Sign(priv, o, fs.Arg(0), f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, *out)
	}
	if err != nil {
		os.Remove(tmp)
		fmt.Fprintln(os.Stderr, "bundle sign:", err)
		return 1
	}
	fmt.Printf("%s: %s version %d (%s), %d files, expires %s, signed by %s\n", *out, m.Kind, m.Version, m.Channel,
		len(m.Files), m.Expires.Format(time.RFC3339), signed.KeyID(priv.Public().(ed25519.PublicKey)))
	return 0
}

func bundleVerify(args []string) int {
	fs := flag.NewFlagSet("bundle verify", flag.ContinueOnError)
	pub := fs.String("pub", "", "public key file to check the signature with")
	dataDir := fs.String("data-dir", defaultDataDir(), "without --pub: the appliance whose trusted keys check it")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprint(os.Stderr, bundleUsage)
		return 2
	}
	var trust signed.Verifier
	if *pub != "" {
		keys, err := signed.ReadPublic(*pub)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bundle verify:", err)
			return 1
		}
		trust = signed.NewTrust(nil, keys)
	} else {
		in := &updates.Installer{DataDir: *dataDir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if st, err := settings.Load(*dataDir, nil); err == nil {
			in.TrustedKeys, in.RootKeyring = st.Updates.TrustedKeys, st.Updates.RootKeyring
		}
		t, err := in.Trust()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bundle verify:", err)
			return 1
		}
		trust = t
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle verify:", err)
		return 1
	}
	defer f.Close()
	r, err := signed.Open(f, trust)
	if err == nil {
		err = r.Extract("")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bundle verify: %s: %v\n", filepath.Base(fs.Arg(0)), err)
		return 1
	}
	m := r.Manifest
	fmt.Printf("%s: good: %s version %d (%s), created %s, expires %s, signed by %s\n", fs.Arg(0), m.Kind, m.Version, m.Channel,
		m.Created.Format(time.RFC3339), m.Expires.Format(time.RFC3339), r.KeyID)
	for _, file := range m.Files {
		fmt.Printf("  %s %d %s\n", file.SHA256, file.Size, file.Name)
	}
	if time.Now().After(m.Expires) {
		fmt.Println("  EXPIRED: an appliance refuses it")
	}
	return 0
}

func bundleKeyring(args []string) int {
	fs := flag.NewFlagSet("bundle keyring", flag.ContinueOnError)
	var roots, signing, retire multiFlag
	fs.Var(&roots, "root", "a root private key that signs the document (repeat up to the threshold)")
	fs.Var(&signing, "signing-key", "a public key file whose keys may sign bundles (repeatable)")
	fs.Var(&retire, "retire", "the id of a key never to trust again (repeatable)")
	version := fs.Uint64("version", 0, "version, higher than the last document's")
	expires := fs.Duration("expires", 365*24*time.Hour, "how long the document adds its keys")
	out := fs.String("out", "", "file to write")
	if err := fs.Parse(args); err != nil || len(roots) == 0 || *version == 0 || *out == "" || fs.NArg() != 0 {
		fmt.Fprint(os.Stderr, bundleUsage)
		return 2
	}
	now := time.Now().UTC().Truncate(time.Second)
	k := signed.Keyring{Version: *version, Created: now, Expires: now.Add(*expires), SigningKeys: []string{}, Retired: retire}
	if k.Retired == nil {
		k.Retired = []string{}
	}
	for _, p := range signing {
		keys, err := signed.ReadPublic(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bundle keyring:", err)
			return 1
		}
		for _, key := range keys {
			k.SigningKeys = append(k.SigningKeys, signed.SigningKeyString(key))
		}
	}
	var privs []ed25519.PrivateKey
	for _, r := range roots {
		p, err := signed.ReadPrivate(r)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bundle keyring:", err)
			return 1
		}
		privs = append(privs, p)
	}
	doc, err := signed.SignKeyring(k, privs...)
	if err == nil {
		err = os.WriteFile(*out, doc, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle keyring:", err)
		return 1
	}
	fmt.Printf("%s: keyring version %d, %d signing keys, %d retired, %d root signatures\n", *out, k.Version, len(k.SigningKeys), len(k.Retired), len(privs))
	return 0
}
