package updates

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/analysis"
	"mailinspector/internal/engine/clamd"
	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
	"mailinspector/internal/updates/signed"
)

// sample is a byte string only the signature named after it finds.
func sample(name string) []byte { return []byte("xx MAILINSPECTOR-UPDATE-" + name + "-7c1e xx") }

// ndbLine is a ClamAV body signature that finds sample(name).
func ndbLine(name string) string {
	return "MailInspector.Update." + name + ":0:*:" + hex.EncodeToString([]byte("MAILINSPECTOR-UPDATE-"+name+"-7c1e")) + "\n"
}

type fixture struct {
	t      *testing.T
	in     *Installer
	live   *clamd.Client
	key    ed25519.PrivateKey
	keyPub string // its public key file
	now    time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cd := testutil.StartClamd(t)
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "mailinspector.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keyFile := filepath.Join(dir, "signing.key")
	if _, err := signed.GenerateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	key, _ := signed.ReadPrivate(keyFile)
	live, _ := clamd.New(cd.Spec())
	f := &fixture{t: t, live: live, key: key, keyPub: keyFile + ".pub", now: time.Now()}
	f.in = &Installer{DB: db, DataDir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "0.1.0", Keep: 3,
		TrustedKeys: []string{f.keyPub}, ClamAV: &ClamAVKind{Database: cd.DB, Live: live, Wait: time.Minute},
		Now: func() time.Time { return f.now }}
	return f
}

// bundle signs the files (name → content) as kind clamav version v; a
// canary file "canary" finds canaryFor's signature.
func (f *fixture) bundle(key ed25519.PrivateKey, v uint64, files map[string]string, canaryFor string, lifetime time.Duration) []byte {
	f.t.Helper()
	dir := f.t.TempDir()
	for name, body := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	var cs []signed.Canary
	if canaryFor != "" {
		os.WriteFile(filepath.Join(dir, "canary"), sample(canaryFor), 0o644)
		cs = append(cs, signed.Canary{File: "canary", Expect: "MailInspector.Update." + canaryFor + ".UNOFFICIAL"})
	}
	var buf bytes.Buffer
	if _, err := signed.Sign(key, signed.SignOptions{Kind: "clamav", Version: v, Created: f.now, Lifetime: lifetime, Canaries: cs}, dir, &buf); err != nil {
		f.t.Fatal(err)
	}
	return buf.Bytes()
}

// finds says what the live clamd calls sample(name) ("" clean).
func (f *fixture) finds(name string) string {
	f.t.Helper()
	res, err := f.live.Scan(context.Background(), bytes.NewReader(sample(name)))
	if err != nil {
		f.t.Fatal(err)
	}
	if !res.Infected {
		return ""
	}
	return res.Signature
}

// waitFinds waits until the live clamd (reloading) calls sample(name) want.
func (f *fixture) waitFinds(name, want string) {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for got := f.finds(name); got != want; got = f.finds(name) {
		if time.Now().After(deadline) {
			f.t.Fatalf("sample %s: found %q, want %q", name, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *fixture) live1() uint64 {
	k, _, err := f.in.DB.UpdateKindOf(context.Background(), "clamav")
	if err != nil {
		f.t.Fatal(err)
	}
	return k.Live
}

func (f *fixture) lastEvent() store.UpdateEvent {
	h, err := f.in.DB.UpdateHistory(context.Background(), 1)
	if err != nil || len(h) == 0 {
		f.t.Fatalf("history: %v %v", h, err)
	}
	return h[0]
}

func TestInstallClamAVBundles(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const one, two = "One", "Two"
	if got := f.finds(one); got != "" {
		t.Fatalf("before any bundle the sample is %q", got)
	}
	v1 := map[string]string{"update.ndb": ndbLine(one)}
	v2 := map[string]string{"update.ndb": ndbLine(one), "more.ndb": ndbLine(two)}
	if _, err := f.in.Install(ctx, bytes.NewReader(f.bundle(f.key, 1, v1, one, time.Hour)), "import"); err != nil {
		t.Fatal(err)
	}
	// Installed means live: health waited for clamd's reload.
	if got := f.finds(one); got != "MailInspector.Update.One.UNOFFICIAL" {
		t.Fatalf("after version 1 the sample is %q", got)
	}
	if _, err := f.in.Install(ctx, bytes.NewReader(f.bundle(f.key, 2, v2, two, time.Hour)), "import"); err != nil {
		t.Fatal(err)
	}
	if got := f.finds(two); got == "" {
		t.Fatal("version 2's signature is not live")
	}
	names, _ := filepath.Glob(filepath.Join(f.in.ClamAV.Database, "mi-clamav--*"))
	if len(names) != 2 {
		t.Fatalf("links in the database directory: %v", names)
	}

	_, other, _ := ed25519.GenerateKey(nil)
	corrupt := f.bundle(f.key, 3, v2, "", time.Hour)
	corrupt = bytes.Replace(corrupt, []byte(hex.EncodeToString([]byte("MAILINSPECTOR-UPDATE-Two"))), []byte(hex.EncodeToString([]byte("MAILINSPECTOR-UPDATE-Tw0"))), 1)
	broken := map[string]string{"update.ndb": ndbLine(one), "more.ndb": ndbLine(two), "bad.ndb": "Broken.Sig:0:*:zz-not-hex\n"}
	for _, c := range []struct {
		name, outcome, detail string
		bundle                []byte
		setup                 func()
	}{
		{"corrupt", "refused", "SHA-256", corrupt, nil},
		{"untrusted key", "refused", "not a trusted key", f.bundle(other, 3, v2, "", time.Hour), nil},
		{"lower version", "refused", "not newer than 2", f.bundle(f.key, 1, v1, "", time.Hour), nil},
		{"expired", "refused", "expired", f.bundle(f.key, 3, v2, "", time.Hour), func() { f.now = f.now.Add(2 * time.Hour) }},
		{"dated in the future", "refused", "in the future", f.bundle(f.key, 3, v2, "", 100*time.Hour), func() { f.now = f.now.Add(-50 * time.Hour) }},
		{"not a database", "failed", "not a ClamAV database", f.bundle(f.key, 3, map[string]string{"notes.txt": "x"}, "", time.Hour), nil},
		{"clamd cannot load it", "failed", "could not load", f.bundle(f.key, 4, broken, two, time.Hour), nil},
		{"canary not found", "failed", "canary", f.bundle(f.key, 5, v1, two, time.Hour), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			saved := f.now
			defer func() { f.now = saved }()
			if c.setup != nil {
				c.setup()
			}
			_, err := f.in.Install(ctx, bytes.NewReader(c.bundle), "import")
			if err == nil || !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("err = %v, want %q", err, c.detail)
			}
			ev := f.lastEvent()
			if ev.Outcome != c.outcome || !strings.Contains(ev.Detail, c.detail) {
				t.Fatalf("history: %+v", ev)
			}
			if f.live1() != 2 || f.finds(two) == "" {
				t.Fatalf("version 2 is no longer live (%d)", f.live1())
			}
		})
	}
	// Version 5 failed validation: it was verified, so 5 is the mark.
	if k, _, _ := f.in.DB.UpdateKindOf(ctx, "clamav"); k.HighWater != 5 {
		t.Fatalf("high-water mark %d, want 5", k.HighWater)
	}

	// Rollback: version 1 again, and its signature set with it.
	v, err := f.in.Rollback(ctx, "clamav")
	if err != nil || v != 1 {
		t.Fatalf("rollback: %d %v", v, err)
	}
	f.waitFinds(two, "")
	if f.finds(one) == "" || f.live1() != 1 {
		t.Fatal("version 1 is not live after the rollback")
	}
	if _, err := f.in.Rollback(ctx, "clamav"); err == nil {
		t.Fatal("rolled back past the oldest kept version")
	}
	// The feed cannot go back: version 2 is still refused.
	if _, err := f.in.Install(ctx, bytes.NewReader(f.bundle(f.key, 2, v2, two, time.Hour)), "import"); err == nil {
		t.Fatal("version 2 installed again after the rollback")
	}
	if _, err := f.in.Install(ctx, bytes.NewReader(f.bundle(f.key, 7, v2, two, time.Hour)), "import"); err != nil {
		t.Fatal(err)
	}
	if got := f.in.Kept("clamav"); len(got) != 3 || got[2] != 7 {
		t.Fatalf("kept %v, want the newest three", got)
	}
	// A bundle without canaries of its own (bundle sign without --canary)
	// is held to the project's canaries and the clean sample.
	if _, err := f.in.Install(ctx, bytes.NewReader(f.bundle(f.key, 8, v2, "", time.Hour)), "import"); err != nil {
		t.Fatalf("a bundle without canaries: %v", err)
	}
}

// A keyring document the roots signed retires a leaked key: its bundles
// are refused though updates.trusted_keys still names it; a new signing
// key the document adds is trusted without any setting.
func TestKeyringRetiresAKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := f.in.DataDir
	var roots []ed25519.PrivateKey
	var rootPubs []ed25519.PublicKey
	for i := range 3 {
		p := filepath.Join(dir, "root"+string(rune('a'+i)))
		signed.GenerateKey(p)
		k, _ := signed.ReadPrivate(p)
		roots, rootPubs = append(roots, k), append(rootPubs, k.Public().(ed25519.PublicKey))
	}
	os.WriteFile(filepath.Join(dir, "roots.json"), signed.EncodeRoots(2, rootPubs), 0o644)
	f.in.RootKeyring = filepath.Join(dir, "roots.json")
	fresh := filepath.Join(dir, "fresh.key")
	signed.GenerateKey(fresh)
	freshKey, _ := signed.ReadPrivate(fresh)
	freshPub := freshKey.Public().(ed25519.PublicKey)
	leaked := signed.KeyID(f.key.Public().(ed25519.PublicKey))
	doc := signed.Keyring{Version: 1, Created: f.now, Expires: f.now.Add(time.Hour),
		SigningKeys: []string{signed.SigningKeyString(freshPub)}, Retired: []string{leaked}}
	one, _ := signed.SignKeyring(doc, roots[0])
	if _, err := f.in.AcceptKeyring(ctx, one, "import"); err == nil {
		t.Fatal("a keyring with one root signature of two was accepted")
	}
	two, _ := signed.SignKeyring(doc, roots[0], roots[2])
	if ok, err := f.in.AcceptKeyring(ctx, two, "import"); !ok || err != nil {
		t.Fatalf("keyring: %v %v", ok, err)
	}
	v1 := map[string]string{"update.ndb": ndbLine("One")}
	_, err := f.in.Install(ctx, bytes.NewReader(f.bundle(f.key, 1, v1, "One", time.Hour)), "import")
	if err == nil || !strings.Contains(err.Error(), "retired") {
		t.Fatalf("a retired key's bundle: %v", err)
	}
	if _, err := f.in.Install(ctx, bytes.NewReader(f.bundle(freshKey, 1, v1, "One", time.Hour)), "import"); err != nil {
		t.Fatalf("the keyring's new key: %v", err)
	}
	// An older keyring document changes nothing.
	doc.Version, doc.Retired = 1, nil
	again, _ := signed.SignKeyring(doc, roots[0], roots[1])
	if ok, _ := f.in.AcceptKeyring(ctx, again, "hub"); ok {
		t.Fatal("a keyring document of the same version replaced the stored one")
	}
	if _, err := f.in.Trust(); err != nil {
		t.Fatal(err)
	}
	if tr, _ := f.in.Trust(); contains(tr.Keys(), leaked) {
		t.Fatal("the retired key is still trusted")
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// signDir signs the files of a folder as kind version v.
func (f *fixture) signDir(kind string, v uint64, files map[string]string, canaries []signed.Canary) []byte {
	f.t.Helper()
	dir := f.t.TempDir()
	for name, body := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	var buf bytes.Buffer
	if _, err := signed.Sign(f.key, signed.SignOptions{Kind: kind, Version: v, Created: f.now, Lifetime: time.Hour, Canaries: canaries}, dir, &buf); err != nil {
		f.t.Fatal(err)
	}
	return buf.Bytes()
}

func TestInstallListsAndYARA(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	feed := &analysis.ListFeed{}
	f.in.Lists = &ListsKind{Dir: filepath.Join(f.in.DataDir, "updates"), Feed: feed}
	good := map[string]string{"blocked-domains.txt": "evil.example\n", "blocked-hashes.txt": strings.Repeat("ab", 32) + "\n"}
	if _, err := f.in.Install(ctx, bytes.NewReader(f.signDir("lists", 1, good, nil)), "import"); err != nil {
		t.Fatal(err)
	}
	if feed.Version() != 1 {
		t.Fatalf("lists in use: version %d", feed.Version())
	}
	if h, u, d := feed.Counts(); h != 1 || u != 0 || d != 1 {
		t.Fatalf("counts %d %d %d", h, u, d)
	}
	bad := map[string]string{"blocked-domains.txt": "evil.example\nnot a domain\n"}
	if _, err := f.in.Install(ctx, bytes.NewReader(f.signDir("lists", 2, bad, nil)), "import"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a lists bundle with a bad line: %v", err)
	}
	other := map[string]string{"notes.txt": "x"}
	if _, err := f.in.Install(ctx, bytes.NewReader(f.signDir("lists", 3, other, nil)), "import"); err == nil || !strings.Contains(err.Error(), "not a lists file") {
		t.Fatalf("a lists bundle with another file: %v", err)
	}
	if feed.Version() != 1 {
		t.Fatalf("a refused bundle changed the lists in use: version %d", feed.Version())
	}
	if _, err := f.in.Install(ctx, bytes.NewReader(f.signDir("lists", 4, map[string]string{"blocked-urls.txt": "http://bad.example/x\n"}, nil)), "import"); err != nil {
		t.Fatal(err)
	}
	// What went live is what the next start loads.
	fresh := &analysis.ListFeed{}
	if err := LoadLists(f.in.DataDir, fresh); err != nil || fresh.Version() != 4 {
		t.Fatalf("LoadLists: version %d, %v", fresh.Version(), err)
	}
	if v, err := f.in.Rollback(ctx, "lists"); err != nil || v != 1 || feed.Version() != 1 {
		t.Fatalf("rollback: %d %v, in use %d", v, err, feed.Version())
	}

	// YARA rules, loaded by clamd.
	rule := "rule MailInspector_Update_YARA { strings: $a = \"MAILINSPECTOR-UPDATE-YARA-3e1f\" condition: $a }\n"
	canary := map[string]string{"update.yar": rule, "canary": "xx MAILINSPECTOR-UPDATE-YARA-3e1f xx"}
	if _, err := f.in.Install(ctx, bytes.NewReader(f.signDir("yara", 1, canary,
		[]signed.Canary{{File: "canary", Expect: "YARA.MailInspector_Update_YARA.UNOFFICIAL"}})), "import"); err != nil {
		t.Fatal(err)
	}
	res, err := f.live.Scan(ctx, strings.NewReader("a MAILINSPECTOR-UPDATE-YARA-3e1f b"))
	if err != nil || !res.Infected || !strings.Contains(res.Signature, "MailInspector_Update_YARA") {
		t.Fatalf("the YARA rule is not live: %+v %v", res, err)
	}
	// clamd skips a rule it cannot compile: the canary catches it.
	broken := map[string]string{"update.yar": "rule Broken { strings: $a = \"MAILINSPECTOR-UPDATE-YARA-3e1f\" condition: $a and \n",
		"canary": "xx MAILINSPECTOR-UPDATE-YARA-3e1f xx"}
	if _, err := f.in.Install(ctx, bytes.NewReader(f.signDir("yara", 2, broken,
		[]signed.Canary{{File: "canary", Expect: "YARA.Broken.UNOFFICIAL"}})), "import"); err == nil || !strings.Contains(err.Error(), "canary") {
		t.Fatalf("a YARA file clamd cannot compile: %v", err)
	}
}

// TestSeed: the project's signatures as the image ships them (EICAR as the
// canary) install at start once; a second start leaves them.
func TestSeed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	src := t.TempDir()
	sigs, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "clamav", "mailinspector-test.*"))
	for _, s := range sigs {
		b, _ := os.ReadFile(s)
		os.WriteFile(filepath.Join(src, filepath.Base(s)), b, 0o644)
	}
	eicar := `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
	os.WriteFile(filepath.Join(src, "eicar.canary"), []byte(eicar), 0o644)
	seed := t.TempDir()
	out, _ := os.Create(filepath.Join(seed, "clamav-1.bundle"))
	if _, err := signed.Sign(f.key, signed.SignOptions{Kind: "clamav", Version: 1, Lifetime: 10 * 365 * 24 * time.Hour,
		Canaries: []signed.Canary{{File: "eicar.canary", Expect: "MailInspector.Test.EICAR.Body.UNOFFICIAL"}}}, src, out); err != nil {
		t.Fatal(err)
	}
	out.Close()
	f.in.Seed(ctx, seed)
	if f.live1() != 1 {
		t.Fatalf("seed not installed: %+v", f.lastEvent())
	}
	if ev := f.lastEvent(); ev.Source != "seed" || ev.Outcome != "installed" {
		t.Fatalf("history: %+v", ev)
	}
	links, _ := filepath.Glob(filepath.Join(f.in.ClamAV.Database, "mi-clamav--mailinspector-test.*"))
	if len(links) != len(sigs) {
		t.Fatalf("links %v", links)
	}
	f.in.Seed(ctx, seed)
	if h, _ := f.in.DB.UpdateHistory(ctx, 10); len(h) != 1 {
		t.Fatalf("a second start installed the seed again: %+v", h)
	}
}

// TestInstallWhileClamdStarts: clamd down when a bundle goes live (the
// image's first boot: the seed is installed before clamd answers); the
// files are in place and the health check waits for clamd to load them.
func TestInstallWhileClamdStarts(t *testing.T) {
	cd := testutil.StartClamd(t)
	f := newFixture(t)
	live, _ := clamd.New(cd.Spec())
	f.in.ClamAV = &ClamAVKind{Database: cd.DB, Live: live, Wait: time.Minute}
	f.live = live
	cd.Stop()
	started := make(chan struct{})
	go func() {
		defer close(started)
		time.Sleep(2 * time.Second)
		cd.Start(t)
	}()
	_, err := f.in.Install(context.Background(), bytes.NewReader(f.bundle(f.key, 1, map[string]string{"update.ndb": ndbLine("One")}, "One", time.Hour)), "seed")
	<-started // clamd's process is the test's to stop again
	if err != nil {
		t.Fatal(err)
	}
	if f.finds("One") == "" {
		t.Fatal("clamd started without the bundle's signature")
	}
}

// TestProjectCanaries: a version that no longer finds the project's
// canary (EICAR) the live version finds is refused.
func TestProjectCanaries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	eicarSig := "Own.EICAR:0:*:" + hex.EncodeToString([]byte("EICAR-STANDARD-ANTIVIRUS-TEST-FILE")) + "\n"
	one := f.signDir("clamav-own", 1, map[string]string{"own.ndb": eicarSig + ndbLine("One")}, nil)
	if _, err := f.in.Install(ctx, bytes.NewReader(one), "import"); err != nil {
		t.Fatal(err)
	}
	lost := f.signDir("clamav-own", 2, map[string]string{"own.ndb": ndbLine("One")}, nil)
	if _, err := f.in.Install(ctx, bytes.NewReader(lost), "import"); err == nil || !strings.Contains(err.Error(), "no longer finds the project's canary EICAR") {
		t.Fatalf("a version that lost EICAR: %v", err)
	}
	kept := f.signDir("clamav-own", 3, map[string]string{"own.ndb": eicarSig + ndbLine("Two")}, nil)
	if _, err := f.in.Install(ctx, bytes.NewReader(kept), "import"); err != nil {
		t.Fatalf("a version that still finds EICAR: %v", err)
	}
}
