package agent

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// straceArgs are the arguments that make strace watch what a sample does
// and write one line per call to fd 3. --seccomp-bpf stops the traced
// program only on these calls, not on every one: under emulation (TCG)
// plain strace slowed a syscall-heavy program about 30 times.
func straceArgs() []string {
	return []string{"-f", "-qq", "--seccomp-bpf", "-s", "4096", "-e", "signal=none",
		"-e", "trace=execve,execveat,open,openat,creat,unlink,unlinkat,rename,renameat,renameat2,connect,clone,clone3,fork,vfork",
		"-o", "/dev/fd/3"}
}

// traceParser turns strace's lines (pid first, as -f -o writes them) into
// events. A call interrupted by another process's line comes as
// "… <unfinished ...>" and later "<... NAME resumed> …": the halves are
// joined before parsing.
type traceParser struct {
	pending map[int]string
	parent  map[int]int
	cwd     string // the sample's working directory, for relative paths
}

func newTraceParser(cwd string) *traceParser {
	return &traceParser{pending: map[int]string{}, parent: map[int]int{}, cwd: cwd}
}

var (
	lineRE   = regexp.MustCompile(`^(?:\[pid\s+)?(\d+)\]?\s+(.*)$`)
	callRE   = regexp.MustCompile(`^([a-z0-9_]+)\((.*)\)\s+=\s+(-?\d+|\?)(.*)$`)
	resumeRE = regexp.MustCompile(`^<\.\.\. [a-z0-9_]+ resumed>\s?(.*)$`)
	inetRE   = regexp.MustCompile(`sin_port=htons\((\d+)\), sin_addr=inet_addr\("([0-9.]+)"\)`)
	inet6RE  = regexp.MustCompile(`sin6_port=htons\((\d+)\).*inet_pton\(AF_INET6, "([0-9a-fA-F:.]+)"`)
)

// Line parses one line; most lines (reads of libraries, failed calls) give
// no event.
func (p *traceParser) Line(l string) []Event {
	m := lineRE.FindStringSubmatch(strings.TrimRight(l, "\r\n"))
	if m == nil {
		return nil
	}
	pid, _ := strconv.Atoi(m[1])
	rest := m[2]
	if strings.HasSuffix(rest, " <unfinished ...>") {
		head := strings.TrimSuffix(rest, " <unfinished ...>")
		// A connect that blocks (a black-holed address) may never return
		// before the run ends: the attempt is the behaviour, so it counts
		// now, and its resumption is dropped.
		if strings.HasPrefix(head, "connect(") {
			if ev, ok := connectEvent(head); ok {
				ev.PID, ev.PPID = pid, p.parent[pid]
				p.pending[pid] = ""
				return []Event{ev}
			}
		}
		if len(p.pending) < 4096 {
			p.pending[pid] = head
		}
		return nil
	}
	if r := resumeRE.FindStringSubmatch(rest); r != nil {
		head, ok := p.pending[pid]
		delete(p.pending, pid)
		if !ok || head == "" {
			return nil
		}
		rest = head + r[1]
	}
	c := callRE.FindStringSubmatch(rest)
	if c == nil {
		return nil
	}
	name, args, ret := c[1], c[2], c[3]
	n, err := strconv.Atoi(ret)
	// A connect counts whatever it returned (EINPROGRESS when
	// non-blocking, ENETUNREACH in an isolated network): the attempt to
	// call out is the behaviour.
	if name == "connect" {
		ev, ok := connectEvent(rest)
		if !ok {
			return nil
		}
		ev.PID, ev.PPID = pid, p.parent[pid]
		if n < 0 {
			ev.Detail = strings.TrimSpace(c[4])
		}
		return []Event{ev}
	}
	if err != nil || n < 0 {
		return nil
	}
	strs := quoted(args)
	ev := Event{PID: pid, PPID: p.parent[pid]}
	switch name {
	case "clone", "clone3", "fork", "vfork":
		if n <= 0 {
			return nil
		}
		if len(p.parent) < 65536 {
			p.parent[n] = pid
		}
		// Its own event: the child's exec may be printed before the
		// parent's clone returns (strace interleaves them), so an exec's
		// PPID alone does not make the process tree.
		return []Event{{Type: EvFork, PID: n, PPID: pid}}
	case "execve", "execveat":
		if len(strs) == 0 {
			return nil
		}
		ev.Type, ev.Path = EvExec, p.abs(strs[0])
		if name == "execveat" || len(strs) > 1 {
			ev.Argv = strs[1:]
		}
	case "open", "openat", "creat":
		if len(strs) == 0 || (name != "creat" && !writeFlags(args)) {
			return nil
		}
		ev.Type, ev.Path = EvWrite, p.abs(strs[0])
		if uninteresting(ev.Path) {
			return nil
		}
	case "unlink", "unlinkat":
		if len(strs) == 0 {
			return nil
		}
		ev.Type, ev.Path = EvDelete, p.abs(strs[0])
	case "rename", "renameat", "renameat2":
		if len(strs) < 2 {
			return nil
		}
		ev.Type, ev.Path, ev.To = EvRename, p.abs(strs[0]), p.abs(strs[1])
	default:
		return nil
	}
	return []Event{ev}
}

// connectEvent reads the address of a connect call; AF_UNIX and the like
// stay inside the guest and give none.
func connectEvent(call string) (Event, bool) {
	if a := inetRE.FindStringSubmatch(call); a != nil {
		return Event{Type: EvConnect, Addr: a[2] + ":" + a[1]}, true
	}
	if a := inet6RE.FindStringSubmatch(call); a != nil {
		return Event{Type: EvConnect, Addr: "[" + a[2] + "]:" + a[1]}, true
	}
	return Event{}, false
}

func (p *traceParser) abs(s string) string {
	if s == "" || strings.HasPrefix(s, "/") {
		return path.Clean(s)
	}
	return path.Join(p.cwd, s)
}

func writeFlags(args string) bool {
	return strings.Contains(args, "O_WRONLY") || strings.Contains(args, "O_RDWR") || strings.Contains(args, "O_CREAT")
}

// uninteresting are writes every program makes.
func uninteresting(p string) bool {
	return p == "/dev/null" || p == "/dev/tty" || strings.HasPrefix(p, "/proc/") || strings.HasPrefix(p, "/dev/pts/")
}

// quoted returns the C-quoted strings of an strace argument list, in order,
// unescaped (strace escapes ", \, and non-printing bytes as \n, \t, \xHH or
// octal).
func quoted(args string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] != '"' {
			continue
		}
		var b strings.Builder
		j := i + 1
		for ; j < len(args) && args[j] != '"'; j++ {
			if args[j] != '\\' || j+1 >= len(args) {
				b.WriteByte(args[j])
				continue
			}
			j++
			switch c := args[j]; c {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'v':
				b.WriteByte('\v')
			case 'f':
				b.WriteByte('\f')
			case 'x':
				if j+2 < len(args) {
					if v, err := strconv.ParseUint(args[j+1:j+3], 16, 8); err == nil {
						b.WriteByte(byte(v))
						j += 2
						continue
					}
				}
				b.WriteByte(c)
			case '0', '1', '2', '3', '4', '5', '6', '7':
				k := j
				for k < len(args) && k < j+3 && args[k] >= '0' && args[k] <= '7' {
					k++
				}
				v, _ := strconv.ParseUint(args[j:k], 8, 8)
				b.WriteByte(byte(v))
				j = k - 1
			default:
				b.WriteByte(c)
			}
		}
		out = append(out, b.String())
		i = j
	}
	return out
}

// String is an event in one line, for logs and the HTML report.
func (e Event) String() string {
	switch e.Type {
	case EvExec:
		return fmt.Sprintf("pid %d exec %s %q", e.PID, e.Path, e.Argv)
	case EvRename:
		return fmt.Sprintf("pid %d rename %s -> %s", e.PID, e.Path, e.To)
	case EvConnect:
		return fmt.Sprintf("pid %d connect %s", e.PID, e.Addr)
	}
	return fmt.Sprintf("pid %d %s %s %s", e.PID, e.Type, e.Path, e.Detail)
}
