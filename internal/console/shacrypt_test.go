package console

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The test vectors of Drepper's specification.
func TestShaCryptVectors(t *testing.T) {
	for _, v := range []struct{ setting, pw, want string }{
		{"$6$saltstring", "Hello world!",
			"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
		{"$6$rounds=10000$saltstringsaltstring", "Hello world!",
			"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
		{"$6$rounds=5000$toolongsaltstring", "This is just a test",
			"$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"},
	} {
		got, err := shaCrypt(v.pw, v.setting)
		if err != nil || got != v.want {
			t.Errorf("%s: %s %v\nwant %s", v.setting, got, err, v.want)
		}
	}
}

// What chpasswd writes, checkHash accepts, and nothing else.
func TestCheckHashAgainstChpasswd(t *testing.T) {
	sys, _ := testRoot(t)
	for _, pw := range []string{"Correct-Horse-42", "ünïcödé-Pass-1", strings.Repeat("Long-Pass-9", 12)} {
		if err := sys.SetPassword("admin", pw); err != nil {
			t.Fatal(err)
		}
		hash := shadowHash(t, sys.Root, "admin")
		if !checkHash(pw, hash) {
			t.Errorf("%q does not check against chpasswd's %s", pw, hash)
		}
		if checkHash(pw+"x", hash) || checkHash("", hash) {
			t.Errorf("a wrong password checks against %s", hash)
		}
	}
}

func shadowHash(t *testing.T, root, user string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc/shadow"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) > 1 && f[0] == user {
			return f[1]
		}
	}
	t.Fatalf("no %s in shadow", user)
	return ""
}
