package licence

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/updates/signed"
)

func TestCodes(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	l := Licence{Appliance: "MI-0A1B-2C3D-4E5F", Edition: "standard", Seats: 250, Issued: now, Expires: now.AddDate(1, 0, 0)}
	code, err := Issue(priv, l)
	if err != nil {
		t.Fatal(err)
	}
	// Pasted over three lines with spaces: still the code.
	wrapped := code[:20] + "\n  " + code[20:50] + " \n" + code[50:]
	got, err := Parse(wrapped, []ed25519.PublicKey{otherPub, pub})
	if err != nil || got.Seats != 250 || got.Appliance != l.Appliance || got.Serial == "" {
		t.Fatalf("parse: %+v %v", got, err)
	}
	if _, err := Parse(code, []ed25519.PublicKey{otherPub}); err != ErrSignature {
		t.Fatalf("another issuer's key: %v", err)
	}
	if _, err := Parse(code, nil); err == nil || !strings.Contains(err.Error(), "not known yet") {
		t.Fatalf("no issuer key: %v", err)
	}
	tampered := code[:len(code)-60] + strings.Repeat("A", 60)
	if _, err := Parse(tampered, []ed25519.PublicKey{pub}); err == nil {
		t.Fatal("a tampered code parsed")
	}
	if _, err := Parse("MI1.!!.??", []ed25519.PublicKey{pub}); err == nil || !strings.Contains(err.Error(), "garbled") {
		t.Fatalf("garbage: %v", err)
	}
	for _, bad := range []Licence{
		{Appliance: "appliance-1", Edition: "standard", Seats: 1, Issued: now, Expires: now.Add(time.Hour)},
		{Appliance: l.Appliance, Edition: "standard", Seats: 0, Issued: now, Expires: now.Add(time.Hour)},
		{Appliance: l.Appliance, Edition: "standard", Seats: 1, Issued: now, Expires: now.Add(-time.Hour)},
	} {
		if _, err := Issue(priv, bad); err == nil {
			t.Errorf("issued %+v", bad)
		}
	}
}

func TestStates(t *testing.T) {
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	l := &Licence{Appliance: "MI-0A1B-2C3D-4E5F", Edition: "standard", Seats: 1, Issued: first.Add(10 * day), Expires: first.Add(100 * day)}
	for _, c := range []struct {
		l       *Licence
		at      time.Duration
		state   string
		updates bool
		warn    string
	}{
		{nil, 5 * day, Trial, true, "Trial licence"},
		{nil, 31 * day, Unlicensed, false, "NO LICENCE"},
		{l, 20 * day, Active, true, ""},
		{l, 80 * day, Active, true, "expires on 2026-04-11"},
		{l, 110 * day, Grace, true, "grace period until 2026-05-11"},
		{l, 131 * day, Expired, false, "LICENCE EXPIRED"},
	} {
		st := Evaluate(c.l, first, first.Add(c.at), 30*day, 30*day)
		if st.Name != c.state || st.Updates != c.updates || !strings.Contains(st.Warning, c.warn) || (c.warn == "" && st.Warning != "") {
			t.Errorf("day %d: %+v, want %s updates=%v warning %q", c.at/day, st, c.state, c.updates, c.warn)
		}
		if st.Loud != (c.state == Unlicensed || c.state == Grace || c.state == Expired) {
			t.Errorf("day %d: loud %v in state %s", c.at/day, st.Loud, st.Name)
		}
		if !st.Updates && st.UpdatesStopped == "" {
			t.Errorf("day %d: updates stopped without a reason", c.at/day)
		}
	}
}

func TestBook(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	b := &Book{Dir: dir, Trial: time.Hour, GracePeriod: time.Hour, Now: func() time.Time { return now }}
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	id := b.ID()
	if !ValidID(id) {
		t.Fatalf("id %q", id)
	}
	if err := b.Open(); err != nil || b.ID() != id {
		t.Fatal("the id changed on a second open")
	}
	if st := b.State(); st.Name != Trial {
		t.Fatalf("state %s", st.Name)
	}
	keyFile := filepath.Join(t.TempDir(), "issuer.key")
	signed.GenerateKey(keyFile)
	priv, _ := signed.ReadPrivate(keyFile)
	pemPub, _ := os.ReadFile(keyFile + ".pub")
	code, _ := Issue(priv, Licence{Appliance: id, Edition: "standard", Seats: 5, Issued: now, Expires: now.Add(2 * time.Hour)})
	if _, err := b.Activate(code, "activate"); err == nil {
		t.Fatal("activated with no issuer key known")
	}
	if err := b.PinIssuer(string(pemPub)); err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if err := b.PinIssuer(string(signed.EncodePublic(other.Public().(ed25519.PublicKey)))); err == nil {
		t.Fatal("a second issuer key replaced the pinned one")
	}
	otherCode, _ := Issue(priv, Licence{Appliance: "MI-0000-0000-0000", Edition: "standard", Seats: 5, Issued: now, Expires: now.Add(time.Hour)})
	if _, err := b.Activate(otherCode, "activate"); err == nil || !strings.Contains(err.Error(), "for appliance MI-0000-0000-0000") {
		t.Fatalf("another appliance's code: %v", err)
	}
	if _, err := b.Activate(code, "activate"); err != nil {
		t.Fatal(err)
	}
	if st := b.State(); st.Name != Active || st.Licence.Seats != 5 {
		t.Fatalf("state %+v", st)
	}
	older, _ := Issue(priv, Licence{Appliance: id, Edition: "standard", Seats: 9, Issued: now.Add(-time.Hour), Expires: now.Add(time.Hour)})
	if _, err := b.Activate(older, "hub"); err == nil {
		t.Fatal("an older code replaced the licence")
	}
	now = now.Add(150 * time.Minute)
	if st := b.State(); st.Name != Grace {
		t.Fatalf("state %s, want grace", st.Name)
	}
	now = now.Add(time.Hour)
	if st := b.State(); st.Name != Expired || st.Updates {
		t.Fatalf("state %+v, want expired", st)
	}
	// A code edited by hand counts for nothing.
	raw, _ := os.ReadFile(filepath.Join(dir, "licence", "licence.json"))
	os.WriteFile(filepath.Join(dir, "licence", "licence.json"), []byte(strings.Replace(string(raw), "MI1.", "MI1.x", 1)), 0o600)
	if l, _ := b.Licence(); l != nil {
		t.Fatal("an edited code still counts")
	}
}
