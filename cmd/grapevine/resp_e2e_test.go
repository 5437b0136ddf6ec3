package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// respAddrRE finds the RESP address in a daemon's log.
var respAddrRE = regexp.MustCompile(`msg="Redis protocol \(RESP\) listening" addr=(\S+)`)

// respAddr waits for d to log its RESP address and returns it.
func (d *daemon) respAddr() string {
	d.t.Helper()
	var addr string
	testutil.Eventually(d.t, "RESP address in the log of "+d.data, func() bool {
		m := respAddrRE.FindStringSubmatch(d.logText())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	return addr
}

// redisCLI runs the real redis-cli against addr and returns its output.
func redisCLI(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testutil.Tool(t, "redis-cli"), append([]string{"-h", host, "-p", port}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %q: %v\n%s", args, err, out)
	}
	return strings.TrimRight(string(out), "\n")
}

// The real redis-cli against two real daemons: SET through RESP on one
// peer, GET through RESP on the other once it has replicated.
func TestRESPWithRedisCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs daemons")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	a := startDaemon(t, bin, filepath.Join(root, "a"), "--resp", "127.0.0.1:0", "--resp-databases", "default,tenant-a")
	b := startDaemon(t, bin, filepath.Join(root, "b"), "--resp", "127.0.0.1:0", "--resp-databases", "default,tenant-a", "--bootstrap", a.tcpAddr())
	a.waitPeers(1)
	ra, rb := a.respAddr(), b.respAddr()

	if out := redisCLI(t, ra, "PING"); out != "PONG" {
		t.Fatalf("PING = %q", out)
	}
	if out := redisCLI(t, ra, "SET", "greeting", "hello from redis-cli"); out != "OK" {
		t.Fatalf("SET = %q", out)
	}
	if out := redisCLI(t, ra, "-n", "1", "INCRBY", "visits", "5"); out != "5" {
		t.Fatalf("INCRBY in db 1 = %q", out)
	}
	testutil.Eventually(t, "greeting through RESP on b", func() bool {
		return redisCLI(t, rb, "GET", "greeting") == "hello from redis-cli"
	})
	testutil.Eventually(t, "visits in tenant-a through RESP on b", func() bool {
		return redisCLI(t, rb, "-n", "1", "GET", "visits") == "5"
	})
	// The HTTP API sees the same data.
	if out := b.mustCLI("incr", "visits", "0", "--ns", "tenant-a"); strings.TrimSpace(out) != "5" {
		t.Errorf("grapevine incr visits 0 --ns tenant-a on b = %q", out)
	}
	if out := redisCLI(t, rb, "--scan"); out != "greeting" {
		t.Errorf("redis-cli --scan on b = %q", out)
	}
	if out := redisCLI(t, rb, "INFO", "grapevine"); !strings.Contains(out, "peers:1") {
		t.Errorf("INFO grapevine on b:\n%s", out)
	}
	if out := redisCLI(t, rb, "GET", "nope"); out != "" {
		t.Errorf("GET nope = %q, want nil (empty output)", out)
	}
	a.stop()
	b.stop()
}

// --resp is refused up front: without a host, beyond loopback without
// tokens, on a port in use.
func TestRESPRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs daemons")
	}
	bin := buildBinary(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("t write\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--resp", ":6380"}, 2, "--resp wants HOST:PORT with a host"},
		{[]string{"--resp", "0.0.0.0:0"}, 2, "refusing to serve the Redis protocol on 0.0.0.0:0 without API tokens"},
		{[]string{"--resp", busy.Addr().String()}, 1, "already in use by another process"},
		{[]string{"--resp", "127.0.0.1:0", "--resp-databases", "Bad Name"}, 2, "--resp-databases: resp: database 0: invalid namespace"},
	} {
		code, errOut := runFailingDaemon(t, bin, t.TempDir(), tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("daemon %q: exit %d, %q; want %d and %q", tc.args, code, lastLine(errOut), tc.code, tc.want)
		}
	}
	// With tokens, beyond loopback is fine, and AUTH is needed.
	d := startDaemon(t, bin, t.TempDir(), "--resp", "0.0.0.0:0", "--api-token-file", tokens)
	addr := strings.Replace(d.respAddr(), "[::]", "127.0.0.1", 1)
	addr = strings.Replace(addr, "0.0.0.0", "127.0.0.1", 1)
	if out := redisCLI(t, addr, "GET", "k"); !strings.Contains(out, "NOAUTH") {
		t.Errorf("GET without AUTH = %q", out)
	}
	if out := redisCLI(t, addr, "--no-auth-warning", "-a", "t", "SET", "k", "v"); out != "OK" {
		t.Errorf("SET with -a = %q", out)
	}
	d.stop()
}
