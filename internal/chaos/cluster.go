package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
)

// ErrNotRunning: the peer named has no running process (no API address).
var ErrNotRunning = errors.New("chaos: peer not running")

// Daemon is one `grapevine daemon` process, restartable on the same data
// directory and libp2p address.
type Daemon struct {
	Index int    // 0-based; printed as p<Index+1>
	IP    string // its own loopback address (127.x.y.z), so partitions can name it
	Port  int    // libp2p TCP port
	Data  string // data directory
	bin   string
	net   string
	logW  io.Writer
	// args are extra daemon flags (the security setup, trust.args);
	// wantID, if set, is the peer ID its pre-made identity key gives.
	args   []string
	wantID string

	mu struct {
		sync.Mutex
		id      string // libp2p peer ID (stable across restarts)
		api     string // host:port of the HTTP API
		cmd     *exec.Cmd
		done    chan struct{} // closed when the process exited
		exitErr error
		killing bool // exit expected (kill or stop)
		paused  bool
		starts  int
	}
	crashes chan string // unexpected exits
}

// Name returns "p1", "p2", ...
func (d *Daemon) Name() string { return fmt.Sprintf("p%d", d.Index+1) }

// ID returns the peer's libp2p ID ("" before the first start).
func (d *Daemon) ID() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.id
}

// API returns the API address of the running process ("" if none).
func (d *Daemon) API() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.api
}

// Addr returns the libp2p multiaddr of the peer.
func (d *Daemon) Addr() string {
	return fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", d.IP, d.Port, d.ID())
}

// Started reports whether the daemon was ever started (a joiner is not
// until halfway through the run).
func (d *Daemon) Started() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.starts > 0
}

// Running reports whether the process is running (paused counts).
func (d *Daemon) Running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.cmd != nil
}

// Start runs the daemon and waits until its API answers. isolated starts it
// refusing every peer (--test-isolated) until Rejoin.
func (d *Daemon) Start(ctx context.Context, c *Client, bootstrap []string, isolated bool) error {
	d.mu.Lock()
	if d.mu.cmd != nil {
		d.mu.Unlock()
		return fmt.Errorf("chaos: %s already running", d.Name())
	}
	args := []string{"daemon", "--data", d.Data, "--api", "127.0.0.1:0",
		"--listen", fmt.Sprintf("/ip4/%s/tcp/%d", d.IP, d.Port),
		"--mdns=false", "--network", d.net, "--log-level", "info", "--test-hooks"}
	args = append(args, d.args...)
	if isolated {
		args = append(args, "--test-isolated")
	}
	for _, b := range bootstrap {
		args = append(args, "--bootstrap", b)
	}
	_ = os.Remove(filepath.Join(d.Data, "api"))
	cmd := exec.Command(d.bin, args...)
	cmd.Stdout, cmd.Stderr = d.logW, d.logW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a ^C to the harness does not reach it first
	if err := cmd.Start(); err != nil {
		d.mu.Unlock()
		return fmt.Errorf("chaos: start %s: %w", d.Name(), err)
	}
	done := make(chan struct{})
	d.mu.cmd, d.mu.done, d.mu.api, d.mu.killing, d.mu.paused = cmd, done, "", false, false
	d.mu.starts++
	d.mu.Unlock()
	fmt.Fprintf(d.logW, "### chaos: started pid %d: %s\n", cmd.Process.Pid, strings.Join(args, " "))
	go func() {
		err := cmd.Wait()
		d.mu.Lock()
		d.mu.exitErr = err
		expected := d.mu.killing
		if d.mu.cmd == cmd {
			d.mu.cmd, d.mu.api = nil, ""
		}
		d.mu.Unlock()
		close(done)
		if !expected {
			select {
			case d.crashes <- fmt.Sprintf("%s exited by itself: %v", d.Name(), err):
			default:
			}
		}
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		if addr, err := os.ReadFile(filepath.Join(d.Data, "api")); err == nil {
			a := strings.TrimSpace(string(addr))
			st, err := c.Status(ctx, a)
			if err == nil && d.wantID != "" && st.ID != d.wantID {
				_ = d.Kill()
				return fmt.Errorf("chaos: %s runs as %s, not as the identity %s written to %s in its data directory", d.Name(), st.ID, d.wantID, identityFile)
			}
			if err == nil {
				d.mu.Lock()
				d.mu.api, d.mu.id = a, st.ID
				d.mu.Unlock()
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("chaos: %s exited during start-up: %v", d.Name(), d.exitError())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: %s did not serve its API within 30s", d.Name())
		}
	}
}

func (d *Daemon) exitError() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.exitErr
}

// signal sends sig to the running process; expectExit marks its exit as
// the harness's doing. It returns the channel closed at exit.
func (d *Daemon) signal(sig syscall.Signal, expectExit bool) (chan struct{}, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.cmd == nil {
		return nil, ErrNotRunning
	}
	if expectExit {
		d.mu.killing = true
	}
	switch sig {
	case syscall.SIGSTOP:
		d.mu.paused = true
	case syscall.SIGCONT:
		d.mu.paused = false
	}
	return d.mu.done, d.mu.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the process to exit.
func (d *Daemon) Kill() error {
	done, err := d.signal(syscall.SIGKILL, true)
	if err != nil {
		return err
	}
	<-done
	return nil
}

// Pause sends SIGSTOP.
func (d *Daemon) Pause() error { _, err := d.signal(syscall.SIGSTOP, false); return err }

// Resume sends SIGCONT.
func (d *Daemon) Resume() error { _, err := d.signal(syscall.SIGCONT, false); return err }

// Paused reports whether the process is stopped by Pause.
func (d *Daemon) Paused() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.paused
}

// Stop resumes the process if paused, sends SIGTERM and waits up to grace
// for a clean exit, then kills it. It reports an unclean exit.
func (d *Daemon) Stop(grace time.Duration) error {
	_ = d.Resume()
	done, err := d.signal(syscall.SIGTERM, true)
	if err != nil {
		return nil
	}
	select {
	case <-done:
	case <-time.After(grace):
		_ = d.Kill()
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", d.Name(), grace)
	}
	if err := d.exitError(); err != nil {
		return fmt.Errorf("%s exited with %v after SIGTERM", d.Name(), err)
	}
	return nil
}

// Client talks to the daemons' HTTP APIs: through one api/client.Client
// per peer address, each built with that single endpoint, so a request goes
// to exactly the peer it names and is never failed over to another. Every
// request is bounded by the timeout. Safe for concurrent use.
type Client struct {
	http    *http.Client
	timeout time.Duration
	mu      struct {
		sync.Mutex
		peers map[string]*client.Client // by API address
	}
}

// NewClient returns a client whose requests time out after timeout.
func NewClient(timeout time.Duration) *Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	c := &Client{http: &http.Client{Transport: tr}, timeout: timeout}
	c.mu.peers = map[string]*client.Client{}
	return c
}

// Close closes idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// errNoAddr is the error of a request to a peer without an API address: a
// dial that cannot happen, so a definite failure.
func errNoAddr() error { return &net.OpError{Op: "dial", Net: "tcp", Err: ErrNotRunning} }

// peer returns the client of the peer serving its API at addr, for the
// default namespace.
func (c *Client) peer(addr string) (*client.Client, error) { return c.peerNS(addr, "") }

// peerNS returns the client of the peer serving its API at addr, for
// namespace ns.
func (c *Client) peerNS(addr, ns string) (*client.Client, error) {
	if addr == "" {
		return nil, errNoAddr()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if pc, ok := c.mu.peers[addr+"\x00"+ns]; ok {
		return pc, nil
	}
	pc, err := client.New([]string{addr}, ns, client.WithHTTPClient(c.http))
	if err != nil {
		return nil, err
	}
	c.mu.peers[addr+"\x00"+ns] = pc
	return pc, nil
}

// Outcome classifies a failed request: fail when it certainly did not
// reach the handler (connection refused, a 4xx, 503 unavailable), info when
// it may have (timeout, reset, another 5xx).
func outcome(err error) string {
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Op == "dial" {
		return TypeFail
	}
	var ae *apitype.Error
	if errors.As(err, &ae) && (ae.Status < 500 || ae.Code == apitype.CodeUnavailable) {
		return TypeFail
	}
	return TypeInfo
}

// raw sends one request as given, for what api/client does not cover: the
// test hooks, /metrics and the rogue's malformed requests. It returns the
// body of a 2xx answer, else an *apitype.Error or the transport's error.
func (c *Client) raw(ctx context.Context, method, addr, path string, q url.Values, body []byte) ([]byte, error) {
	if addr == "" {
		return nil, errNoAddr()
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := "http://" + addr + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		// Not sent: refused as the server would refuse a malformed request.
		return nil, &apitype.Error{Status: http.StatusBadRequest, Code: apitype.CodeInvalidArgument, Message: err.Error()}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		e := &apitype.Error{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			e.Code, e.Message = apitype.CodeInternal, fmt.Sprintf("unexpected response %s: %s", resp.Status, bytes.TrimSpace(b))
		}
		return nil, e
	}
	return b, nil
}

// Put writes key and returns the write's version.
func (c *Client) Put(ctx context.Context, addr, key, value string) (uint64, error) {
	return c.PutNS(ctx, addr, "", key, value)
}

// PutNS writes key in namespace ns ("" for the default) and returns the
// write's version.
func (c *Client) PutNS(ctx context.Context, addr, ns, key, value string) (uint64, error) {
	pc, err := c.peerNS(addr, ns)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, err := pc.Put(ctx, key, []byte(value))
	if err != nil {
		return 0, err
	}
	if v == 0 { // api/client reads a missing or malformed version as 0, which no write has
		return 0, fmt.Errorf("chaos: PUT answered without a valid %s header", apitype.VersionHeader)
	}
	return v, nil
}

// Get reads key, qualified (namespace:key) outside the default namespace; a missing or deleted key is Reg{Absent: true}.
func (c *Client) Get(ctx context.Context, addr, key string) (Reg, error) {
	ns, k := splitQualified(key)
	return c.GetNS(ctx, addr, ns, k)
}

// GetNS reads key in namespace ns ("" for the default).
func (c *Client) GetNS(ctx context.Context, addr, ns, key string) (Reg, error) {
	pc, err := c.peerNS(addr, ns)
	if err != nil {
		return Reg{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, err := pc.Get(ctx, key)
	switch {
	case errors.Is(err, apitype.ErrNotFound):
		return Reg{Absent: true}, nil
	case err != nil:
		return Reg{}, err
	case v.Version == 0: // as in Put
		return Reg{}, fmt.Errorf("chaos: GET answered without a valid %s header", apitype.VersionHeader)
	}
	return Reg{Value: normValue(string(v.Data)), Version: v.Version}, nil
}

// Delete deletes key.
func (c *Client) Delete(ctx context.Context, addr, key string) error {
	pc, err := c.peer(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return pc.Delete(ctx, key)
}

// Incr adds by to the counter at key and returns its new value on the peer.
func (c *Client) Incr(ctx context.Context, addr, key string, by int64) (int64, error) {
	pc, err := c.peer(addr)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return pc.Incr(ctx, key, by)
}

// Counter reads the counter at key.
func (c *Client) Counter(ctx context.Context, addr, key string) (int64, error) {
	pc, err := c.peer(addr)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return pc.Counter(ctx, key)
}

// List returns every live register with the prefix, all pages; each page
// is one request, bounded by the timeout.
func (c *Client) List(ctx context.Context, addr, prefix string) ([]apitype.Entry, error) {
	return c.ListNS(ctx, addr, "", prefix)
}

// ListNS is List in namespace ns ("" for the default).
func (c *Client) ListNS(ctx context.Context, addr, ns, prefix string) ([]apitype.Entry, error) {
	pc, err := c.peerNS(addr, ns)
	if err != nil {
		return nil, err
	}
	var out []apitype.Entry
	opts := client.ListOptions{Prefix: prefix, Limit: apitype.MaxListLimit}
	for {
		pctx, cancel := context.WithTimeout(ctx, c.timeout)
		page, err := pc.List(pctx, opts)
		cancel()
		if err != nil {
			return nil, err
		}
		for _, e := range page.Entries {
			if e.Type == "" || e.Type == "register" { // the listing shows every type
				out = append(out, e)
			}
		}
		if page.Next == "" {
			return out, nil
		}
		opts.After = page.Next
	}
}

// Status reads /v1/status.
func (c *Client) Status(ctx context.Context, addr string) (apitype.Status, error) {
	pc, err := c.peer(addr)
	if err != nil {
		return apitype.Status{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return pc.Status(ctx)
}

// Hook calls a test hook (POST /v1/test/<name>).
func (c *Client) Hook(ctx context.Context, addr, name string, q url.Values) error {
	_, err := c.raw(ctx, http.MethodPost, addr, "/v1/test/"+name, q, nil)
	return err
}

// Metric returns the sum of the samples of a Prometheus counter.
func (c *Client) Metric(ctx context.Context, addr, name string) (float64, error) {
	b, err := c.raw(ctx, http.MethodGet, addr, "/metrics", nil, nil)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != ' ' && line[len(name)] != '{') {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum, nil
}
