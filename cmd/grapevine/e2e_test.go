package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// binary is the grapevine binary built once for the end-to-end tests.
var binary string

func buildBinary(t *testing.T) string {
	t.Helper()
	if binary != "" {
		return binary
	}
	dir, err := os.MkdirTemp("", "grapevine-e2e-bin")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "grapevine")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	binary = bin
	return bin
}

// daemon is one grapevine daemon process of a test.
type daemon struct {
	t    *testing.T
	bin  string
	data string
	cmd  *exec.Cmd
	log  *lockedBuffer
}

// lockedBuffer collects a daemon's output while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logText returns what the daemon wrote so far.
func (d *daemon) logText() string { return d.log.String() }

// startDaemon runs `grapevine daemon` on loopback ports chosen by the
// kernel and waits until its API answers.
func startDaemon(t *testing.T, bin, data string, extra ...string) *daemon {
	t.Helper()
	args := append([]string{"daemon", "--data", data, "--api", "127.0.0.1:0",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1",
		"--mdns=false", "--network", "e2e", "--log-level", "debug"}, extra...)
	return startDaemonArgs(t, bin, data, args...)
}

// startDaemonArgs runs the binary with exactly args (a daemon on data) and
// waits until its API answers.
func startDaemonArgs(t *testing.T, bin, data string, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, bin: bin, data: data, log: &lockedBuffer{}}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	_ = os.Remove(filepath.Join(data, api.AddrFile))
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.kill() })
	testutil.Eventually(t, "daemon API in "+data, func() bool {
		addr, err := api.ReadAddrFile(data)
		if err != nil {
			return false
		}
		probe := http.DefaultClient
		if strings.HasPrefix(addr, "https://") {
			// Only whether it answers: TestSecureAPI checks the certificate.
			probe = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			defer probe.CloseIdleConnections()
		} else {
			addr = "http://" + addr
		}
		resp, err := probe.Get(addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return d
}

func (d *daemon) kill() {
	if d.cmd.ProcessState == nil {
		_ = d.cmd.Process.Signal(syscall.SIGKILL)
		_ = d.cmd.Wait()
	}
}

func (d *daemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		d.t.Fatalf("daemon exited with %v\n%s", err, d.log)
	}
	if _, err := os.Stat(filepath.Join(d.data, api.AddrFile)); !os.IsNotExist(err) {
		d.t.Errorf("API address file left behind after a clean exit")
	}
}

// cli runs the grapevine CLI against this daemon (found through --data).
func (d *daemon) cli(args ...string) (string, string, int) {
	cmd := exec.Command(d.bin, append(args[:1:1], append([]string{"--data", d.data}, args[1:]...)...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func (d *daemon) mustCLI(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.cli(args...)
	if code != 0 {
		d.t.Fatalf("grapevine %s: exit %d: %s\ndaemon log:\n%s", strings.Join(args, " "), code, errOut, d.log)
	}
	return out
}

// tcpAddr returns the daemon's loopback TCP multiaddr from `grapevine id`.
func (d *daemon) tcpAddr() string {
	for _, a := range strings.Fields(d.mustCLI("id")) {
		if strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") {
			return a
		}
	}
	d.t.Fatalf("no loopback tcp address in `grapevine id`")
	return ""
}

func (d *daemon) waitValue(key, want string) {
	d.t.Helper()
	testutil.Eventually(d.t, fmt.Sprintf("%s=%s on %s", key, want, d.data), func() bool {
		out, _, code := d.cli("get", key)
		return code == 0 && out == want
	})
}

func (d *daemon) waitPeers(n int) {
	d.t.Helper()
	testutil.Eventually(d.t, fmt.Sprintf("%d peers on %s", n, d.data), func() bool {
		out, _, code := d.cli("peers")
		return code == 0 && len(strings.Fields(out)) >= n
	})
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs daemons")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")}
	a := startDaemon(t, bin, dirs[0])
	boot := a.tcpAddr()
	b := startDaemon(t, bin, dirs[1], "--bootstrap", boot)
	c := startDaemon(t, bin, dirs[2], "--bootstrap", boot)
	for _, d := range []*daemon{a, b, c} {
		d.waitPeers(2) // b and c find each other through the DHT rendezvous
	}

	// Put on one, get on the others.
	a.mustCLI("put", "greeting", "hello, world")
	b.waitValue("greeting", "hello, world")
	c.waitValue("greeting", "hello, world")

	// A value from standard input, a counter, a delete.
	cmd := exec.Command(bin, "put", "--data", dirs[1], "from-stdin", "-")
	cmd.Stdin = strings.NewReader("piped\x00bytes")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("put -: %v %s", err, out)
	}
	a.waitValue("from-stdin", "piped\x00bytes")
	if got := strings.TrimSpace(c.mustCLI("incr", "visits", "5")); got != "5" {
		t.Fatalf("incr printed %q, want 5", got)
	}
	a.mustCLI("incr", "visits", "-2")
	testutil.Eventually(t, "counter on b", func() bool {
		out, _, _ := b.cli("incr", "visits", "0")
		return strings.TrimSpace(out) == "3"
	})
	b.mustCLI("del", "greeting")
	testutil.Eventually(t, "delete reaches c", func() bool {
		_, errOut, code := c.cli("get", "greeting")
		return code == codeNotFound && strings.Contains(errOut, "not found")
	})

	// A restarted peer rejoins without --bootstrap and keeps its data.
	c.stop()
	c = startDaemon(t, bin, dirs[2])
	c.waitPeers(1)
	if out := c.mustCLI("sync", "--wait"); !strings.Contains(out, "in sync with") {
		t.Fatalf("sync --wait printed %q", out)
	}
	c.waitValue("from-stdin", "piped\x00bytes")
	a.mustCLI("put", "after-restart", "yes")
	c.waitValue("after-restart", "yes")

	// kill -9 right after an acknowledged put: the value survives.
	b.mustCLI("put", "durable", "acked")
	b.kill()
	b = startDaemon(t, bin, dirs[1])
	if out := b.mustCLI("get", "durable"); out != "acked" {
		t.Fatalf("after kill -9: get durable = %q, want acked", out)
	}
}

func TestCLIErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"get", "k"}, 1, "no daemon found"},
		{[]string{"get", "--api", "127.0.0.1:1", "k"}, 1, "no grapevine daemon reachable"},
		{[]string{"get"}, 2, "usage: grapevine get KEY"},
		{[]string{"put", "k"}, 2, "usage: grapevine put KEY VALUE"},
		{[]string{"incr", "--api", "127.0.0.1:1", "k", "x"}, 2, "N must be a whole number"},
		{[]string{"ls", "--api", "127.0.0.1:1", "--output", "yaml"}, 2, "--output must be text or json"},
		{[]string{"daemon", "--data", data, "--log-level", "loud"}, 2, "--log-level"},
		{[]string{"daemon", "--data", data, "--bootstrap", "/ip4/127.0.0.1/tcp/1"}, 1, "/p2p/"},
	}
	for _, tc := range cases {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = append(os.Environ(), "GRAPEVINE_DATA="+data, "GRAPEVINE_API=")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("grapevine %s: exit %d, stderr %q; want exit %d mentioning %q", strings.Join(tc.args, " "), code, stderr.String(), tc.code, tc.want)
		}
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "grapevine ") {
		t.Fatalf("version: %q %v", out, err)
	}
}

// TestBigValuesEndToEnd runs three daemons with --max-value-size 16777216:
// a 16 MiB value put on one (too large for a gossip message and for a sync
// frame of the default limit) reaches the two others, and so does a small
// write after it.
func TestBigValuesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs daemons")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	const limit = "16777216"
	a := startDaemon(t, bin, filepath.Join(root, "a"), "--max-value-size", limit)
	boot := a.tcpAddr()
	b := startDaemon(t, bin, filepath.Join(root, "b"), "--max-value-size", limit, "--bootstrap", boot)
	c := startDaemon(t, bin, filepath.Join(root, "c"), "--max-value-size", limit, "--bootstrap", boot)
	for _, d := range []*daemon{a, b, c} {
		d.waitPeers(2)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	cmd := exec.Command(bin, "put", "--data", a.data, "big", "-")
	cmd.Stdin = bytes.NewReader(big)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("put of 16 MiB: %v %s", err, out)
	}
	a.mustCLI("put", "after-big", "small")
	for _, d := range []*daemon{b, c} {
		d.waitValue("after-big", "small")
		testutil.Eventually(t, "the 16 MiB value on "+d.data, func() bool {
			out, _, code := d.cli("get", "big")
			return code == 0 && out == string(big)
		})
	}
	if strings.Contains(a.logText(), "limit 5242880") {
		t.Errorf("a sync frame was refused at the old limit:\n%s", a.logText())
	}
}

// linesOf returns the lines r prints (a command's output), closed at EOF.
func linesOf(r io.Reader) <-chan string {
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}
