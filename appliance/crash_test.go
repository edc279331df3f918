package appliance

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailinspector/internal/testutil"
)

// buildBinary builds cmd/mailinspector once per test binary run.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mailinspector-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "mailinspector")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, "mailinspector/cmd/mailinspector").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// child is a `mailinspector serve` child process.
type child struct {
	t    *testing.T
	bin  string
	args []string
	env  []string            // added to the test's environment
	cred *syscall.Credential // run as this user (nil: as the test)
	addr string
	cmd  *exec.Cmd
	logf *os.File
}

// newChild prepares `mailinspector serve` on dir and a free port with the
// given settings (KEY=VALUE); its log goes to dir/daemon.log.
func newChild(t *testing.T, dir string, sets ...string) *child {
	t.Helper()
	addr := freePort(t)
	logf, err := os.Create(filepath.Join(dir, "daemon.log"))
	must(t, err)
	t.Cleanup(func() { logf.Close() })
	args := []string{"serve", "--data-dir", dir, "--set", "smtp.listen=" + addr, "--set", "hostname=mi.test"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return &child{t: t, bin: buildBinary(t), addr: addr, logf: logf, args: args}
}

func (d *child) start() {
	d.t.Helper()
	d.cmd = exec.Command(d.bin, d.args...)
	d.cmd.Stderr = d.logf
	if d.cred != nil {
		d.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: d.cred}
	}
	if d.env != nil {
		d.cmd.Env = append(os.Environ(), d.env...)
	}
	must(d.t, d.cmd.Start())
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("daemon did not listen on %s", d.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *child) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	d.cmd.Wait()
}

func (d *child) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
}

var seqHeader = regexp.MustCompile(`X-Seq: (\d+)`)

// TestSIGKILLDuringLoadLosesNoAcceptedMessage kills the child at random
// moments while clients send, restarts it on the same data directory, and
// checks that every message that got a 250 reaches the downstream.
func TestSIGKILLDuringLoadLosesNoAcceptedMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: builds the binary and kills it repeatedly")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 42))
	sink := testutil.NewSink(t)
	d := newChild(t, t.TempDir(), "delivery.relay="+sink.Addr, "delivery.retry_intervals=200ms")
	addr := d.addr
	d.start()

	var mu sync.Mutex
	acked := map[int]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	next := 0
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				seq := next
				next++
				mu.Unlock()
				body := fmt.Sprintf("From: a@example.org\r\nTo: b@example.com\r\nSubject: crash %d\r\nX-Seq: %d\r\n\r\n%s\r\n", seq, seq, randomBody(seq))
				if err := sendMail(addr, "a@example.org", []string{"b@example.com"}, body); err == nil {
					mu.Lock()
					acked[seq] = true
					mu.Unlock()
				} else {
					time.Sleep(10 * time.Millisecond) // child down: the client would retry later
				}
			}
		}()
	}
	kills := 6
	for i := 0; i < kills; i++ {
		time.Sleep(time.Duration(100+rng.IntN(500)) * time.Millisecond)
		d.kill()
		time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
		d.start()
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	defer d.stop()

	mu.Lock()
	want := len(acked)
	mu.Unlock()
	if want < 50 {
		t.Fatalf("only %d messages acknowledged: the load did not run", want)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		delivered := map[int]int{}
		for _, m := range sink.Messages() {
			if s := seqHeader.FindSubmatch(m.Data); s != nil {
				n, _ := strconv.Atoi(string(s[1]))
				delivered[n]++
			}
		}
		missing := 0
		for seq := range acked {
			if delivered[seq] == 0 {
				missing++
			}
		}
		if missing == 0 {
			dups := 0
			for _, n := range delivered {
				dups += n - 1
			}
			t.Logf("%d kills, %d messages acknowledged, all delivered (%d delivered twice, %d delivered without a 250)",
				kills, want, dups, len(delivered)-want)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged messages never delivered", missing, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func randomBody(seq int) string {
	b := make([]byte, 200+seq%3000)
	for i := range b {
		b[i] = 'a' + byte((seq+i)%26)
		if i%70 == 69 {
			b[i] = '\n'
		}
	}
	return strings.ReplaceAll(string(b), "\n", "\r\n")
}

// runExit runs a command to its end and returns its output and exit code.
func runExit(bin string, args ...string) (string, int) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		return err.Error(), -1
	}
	return string(out), 0
}
