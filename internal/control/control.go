// Package control is the daemon's unix control socket: one JSON request
// line in, one JSON response out. `mailinspector shell` is its client. The
// socket is mode 0660 in the data directory, and the kernel names the peer
// of each connection (peer.go): root, the daemon's user and the admin user
// act as the admin account, anyone else is refused.
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"mailinspector/internal/cli"
)

// SocketName is the socket's file name in the data directory.
const SocketName = "control.sock"

// Request is one command.
type Request struct {
	Command string `json:"command"`
	JSON    bool   `json:"json"`
	// Origin is where the client says the person is (the SSH client's
	// address, a tty): for the audit log beside the peer the kernel names,
	// never for deciding who may do what.
	Origin string `json:"origin,omitempty"`
	// Secret is a new password for account password: beside the command,
	// never in it (commands are logged and audited).
	Secret string `json:"secret,omitempty"`
	// Input is what the person gave on standard input (configure
	// policies < FILE).
	Input string `json:"input,omitempty"`
}

// Response carries the rendered output or the error.
type Response struct {
	OK     bool   `json:"ok"`
	Output string `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
	Usage  bool   `json:"usage,omitempty"`
}

// Server serves the control socket.
type Server struct {
	ln      net.Listener
	backend cli.Backend
	log     *slog.Logger
	wg      sync.WaitGroup
	// Account, when set, names the role of an OS user that is neither
	// root, the daemon's user nor the admin user: one whose name is an
	// appliance account's acts as that account (an Investigator or
	// Operator given an SSH login); an error refuses it.
	Account func(ctx context.Context, osUser string) (role string, err error)
}

// Listen creates the socket at path (replacing a stale one).
func Listen(path string, b cli.Backend, log *slog.Logger) (*Server, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another daemon is running on this data directory", path)
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// The data directory is 0750 and ours; the socket is for us and our
	// group, whose only other member on the appliance is the admin user
	// (its login shell is the command line, which talks over this socket).
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &Server{ln: ln, backend: b, log: log}, nil
}

// Serve answers requests until Close.
func (s *Server) Serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("control accept", "err", err)
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c)
		}()
	}
}

// Close stops serving and waits for requests in progress.
func (s *Server) Close() {
	s.ln.Close()
	s.wg.Wait()
}

func (s *Server) handle(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	line, err := bufio.NewReader(&limitedReader{r: c, n: 1 << 20}).ReadBytes('\n')
	if err != nil {
		return
	}
	var req Request
	var resp Response
	caller, osUser, perr := peer(c)
	if perr != nil && osUser != "" && s.Account != nil {
		if role, err := s.Account(context.Background(), osUser); err == nil {
			caller.Who, caller.Role, perr = osUser, role, nil
		} else {
			perr = fmt.Errorf("%w; and as an account: %v", perr, err)
		}
	}
	if err := json.Unmarshal(line, &req); err != nil {
		resp.Error = "bad request: " + err.Error()
	} else if perr != nil {
		resp.Error = "refused: " + perr.Error()
		s.log.Warn("control command refused", "command", cli.Redact(req.Command), "peer", caller.Via, "err", perr)
	} else {
		if req.Origin != "" {
			caller.Via += "; " + req.Origin
		}
		ctx, cancel := context.WithTimeout(cli.WithInput(cli.WithSecret(cli.WithCaller(context.Background(), caller), req.Secret), req.Input), time.Minute)
		v, err := cli.Exec(ctx, s.backend, req.Command)
		cancel()
		if err == nil {
			resp.Output, err = cli.Render(v, req.JSON)
		}
		if err != nil {
			resp.Error, resp.Usage = err.Error(), errors.Is(err, cli.ErrUsage)
		} else {
			resp.OK = true
		}
		s.log.Info("control command", "command", cli.Redact(req.Command), "ok", resp.OK, "who", caller.Who, "via", caller.Via)
	}
	json.NewEncoder(c).Encode(resp)
}

type limitedReader struct {
	r net.Conn
	n int
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("request too long")
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= n
	return n, err
}

// Call sends one command to the daemon whose socket is at path.
func Call(path string, req Request) (*Response, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the daemon at %s (is mailinspector serve running?): %w", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, err
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, fmt.Errorf("reading the daemon's answer: %w", err)
	}
	return &resp, nil
}
