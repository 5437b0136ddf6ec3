package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// runBin runs the binary with args and env added to the environment.
func runBin(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// `make build` stamps a real version, which `version` (text and JSON) and
// the agent string report.
func TestVersionFromMakeBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "grapevine")
	mk := exec.Command("make", "-s", "build", "BIN="+bin, "VERSION=v1.2.3-e2e")
	mk.Dir = "../.."
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, errOut, code := runBin(t, bin, nil, "version")
	if code != 0 || out != "grapevine v1.2.3-e2e\n" {
		t.Errorf("version: %q %q exit %d", out, errOut, code)
	}
	out, _, _ = runBin(t, bin, nil, "version", "-o", "json")
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version != "v1.2.3-e2e" || v.Agent != "grapevine/v1.2.3-e2e" || v.Go == "" {
		t.Errorf("version -o json: %q (%v)", out, err)
	}
	// The default VERSION (git describe) is never "(devel)".
	mk = exec.Command("make", "-s", "build", "BIN="+bin)
	mk.Dir = "../.."
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, _, _ = runBin(t, bin, nil, "version")
	if v := strings.TrimPrefix(strings.TrimSpace(out), "grapevine "); v == "" || strings.Contains(v, "devel") {
		t.Errorf("make build with the default VERSION: version %q", out)
	}
}

// A config file sets any daemon flag under its name; flags beat the
// environment, which beats the file; unknown keys and wrong kinds are
// refused naming the key; the example file in the repository loads.
func TestConfigFile(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "grapevine.toml")
	data := filepath.Join(dir, "data")
	const id = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"
	write := func(body string) {
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf(`data = %q
api = "127.0.0.1:0"
listen = ["/ip4/127.0.0.1/tcp/0"]
network = "filenet"
mdns = false
log-level = "warn"
max-value-size = 2048
tombstone-grace = "48h"
swarm-key = "/etc/secret/swarm.key"
[writers]
pay = [%q]
`, data, id))
	out, errOut, code := runBin(t, bin, []string{"GRAPEVINE_LOG_LEVEL=debug"}, "config", "show", "--config", conf, "--max-value-size", "4096")
	if code != 0 {
		t.Fatalf("config show: exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`network = "filenet"`, "# file",
		`log-level = "debug"`,   // env beats file
		`max-value-size = 4096`, // flag beats file
		`tombstone-grace = "48h0m0s"`,
		`mdns = false`,
		`swarm-key = "/etc/secret/swarm.key"`, // a path, never a key
		`writers = ["pay=` + id + `"]`,
		`sync = true`, // default
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config show lacks %q:\n%s", want, out)
		}
	}
	for line, source := range map[string]string{"network": "file", "log-level": "env", "max-value-size": "flag", "sync": "default"} {
		if !regexp.MustCompile(`(?m)^` + line + ` = .*# ` + source + `$`).MatchString(out) {
			t.Errorf("config show: %s should come from %s:\n%s", line, source, out)
		}
	}

	// The daemon runs with it.
	write(fmt.Sprintf("data = %q\napi = \"127.0.0.1:0\"\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\nnetwork = \"filenet\"\nmdns = false\n", data))
	d := startDaemonArgs(t, bin, data, "daemon", "--config", conf)
	if st := d.mustCLI("status", "-o", "json"); !strings.Contains(st, `"network": "filenet"`) {
		t.Errorf("daemon started with --config: status %s", st)
	}
	d.stop()

	for body, want := range map[string]string{
		"lisen = []\n":              `unknown key "lisen"`,
		"mdns = \"yes\"\n":          `key "mdns": want true or false, got the string "yes"`,
		"max-value-size = \"1k\"\n": `key "max-value-size": want a whole number`,
		"test-hooks = true\n":       `unknown key "test-hooks"`,
		"data = \n":                 "--config " + conf,
	} {
		write(body)
		_, errOut, code := runBin(t, bin, nil, "daemon", "--config", conf)
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("daemon with %q: exit %d, %q; want 2 and %q", body, code, errOut, want)
		}
	}

	// The example in the repository loads, and names every flag a file may set.
	example := "../../grapevine.example.toml"
	_, errOut, code = runBin(t, bin, nil, "config", "show", "--config", example)
	if code != 0 {
		t.Fatalf("config show --config %s: exit %d: %s", example, code, errOut)
	}
	text, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range daemonFlags() {
		if name := f.Names()[0]; configurable(f) && !regexp.MustCompile(`(?m)^(# )?(\[)?`+regexp.QuoteMeta(name)+`( =|\])`).Match(text) {
			t.Errorf("%s does not show the key %q", example, name)
		}
	}
}

// A daemon explains why it cannot start: the data directory is in use by
// another daemon (named by pid), or a listen port is taken; a client that
// finds the API address of a daemon killed with -9 says it is stale.
func TestStartupRefusals(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	a := startDaemon(t, bin, data)

	code, errOut := runFailingDaemon(t, bin, data)
	want := fmt.Sprintf("another grapevine daemon (pid %d) is using %s", a.cmd.Process.Pid, data)
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("second daemon on the same data: exit %d, %q; want 1 and %q", code, lastLine(errOut), want)
	}

	tcp := a.tcpAddr() // /ip4/127.0.0.1/tcp/PORT/p2p/ID
	listen := tcp[:strings.Index(tcp, "/p2p/")]
	code, errOut = runFailingDaemon(t, bin, t.TempDir(), "--listen", listen)
	if code != 1 || !strings.Contains(errOut, listen) || !strings.Contains(errOut, "already in use by another process") {
		t.Errorf("daemon on a taken port %s: exit %d, %q", listen, code, lastLine(errOut))
	}

	a.kill() // SIGKILL: the api file stays behind
	if _, err := os.Stat(filepath.Join(data, api.AddrFile)); err != nil {
		t.Fatalf("api file after kill -9: %v", err)
	}
	_, errOut, code = a.cli("get", "k")
	if code != 1 || !strings.Contains(errOut, "stale address file") || !strings.Contains(errOut, "did not stop cleanly") {
		t.Errorf("client after kill -9: exit %d, %q; want it to call the api file stale", code, errOut)
	}
	b := startDaemon(t, bin, data) // the directory is free again
	b.mustCLI("put", "k", "v")
	b.stop()
}

// SIGTERM ends open watches at once and the daemon exits cleanly; a
// second signal exits at once.
func TestShutdownWithWatch(t *testing.T) {
	bin := buildBinary(t)
	d := startDaemon(t, bin, t.TempDir())
	watch := exec.Command(bin, "watch", "--data", d.data)
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = watch.Process.Kill(); _ = watch.Wait() })
	// Put until the watch prints it: a put before the watch connected
	// is not reported.
	lines := linesOf(stdout)
	testutil.Eventually(t, "the watch is connected", func() bool {
		d.mustCLI("put", "ping", "1")
		select {
		case line := <-lines:
			if !strings.HasPrefix(line, "put ping") {
				t.Fatalf("watch printed %q, want the put", line)
			}
			return true
		default:
			return false
		}
	})
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("daemon exited with %v\n%s", err, d.logText())
	}
	if strings.Contains(d.logText(), "requests still open at shutdown") {
		t.Errorf("the watch held the shutdown:\n%s", d.logText())
	}
	// The watch client now tries to resume (a watch survives a daemon
	// restart, see TestWatchSurvivesRestartAndFailover): stop it.
	_ = watch.Process.Kill()
	_ = watch.Wait()

	// A request whose body never comes holds the clean shutdown (for up to
	// its grace); a second SIGTERM meanwhile exits at once.
	d2 := startDaemon(t, bin, t.TempDir())
	addr, err := api.ReadAddrFile(d2.data)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The slow request asks for "100 Continue": the server sends it when the
	// handler first reads the body, so once it is read the request is in
	// the handler, waiting for a body that never comes (before that it may
	// still be in the listener's backlog or between requests, and the
	// shutdown would not wait for it).
	if _, err := io.WriteString(conn, "PUT /v1/kv/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	cont, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("the slow request's 100 Continue: %v, %v", cont, err)
	}
	_ = d2.cmd.Process.Signal(syscall.SIGTERM)
	testutil.Eventually(t, "the daemon stopping", func() bool { return strings.Contains(d2.logText(), "send the signal again") })
	_ = d2.cmd.Process.Signal(syscall.SIGTERM)
	err = d2.cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(d2.logText(), "second terminated: exiting at once") {
		t.Errorf("two SIGTERMs: %v, log:\n%s", err, d2.logText())
	}
}

// /readyz tells a peer cut off from the peers it knows; /metrics of a real
// daemon carries libp2p's and the resource manager's series with ours.
func TestReadyzAndMetricsEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	a := startDaemon(t, bin, t.TempDir())
	b := startDaemon(t, bin, t.TempDir(), "--bootstrap", a.tcpAddr())
	b.waitPeers(1)
	readyz := func(d *daemon) (int, string) {
		addr, err := api.ReadAddrFile(d.data)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := readyz(b); code != 200 || body != "ready\n" {
		t.Errorf("readyz with a peer: %d %q", code, body)
	}
	for _, series := range []string{"grapevine_peers", `libp2p_rcmgr_connections{dir="inbound",scope="system"}`, "grapevine_known_peers"} {
		if v := b.metric(series); v == "" {
			t.Errorf("no %s in b's /metrics", series)
		}
	}
	if v, _ := strconv.Atoi(b.metric("grapevine_peers")); v != 1 {
		t.Errorf("grapevine_peers = %d, want 1", v)
	}
	a.stop()
	testutil.Eventually(t, "b not ready once its only peer is gone", func() bool {
		code, body := readyz(b)
		return code == 503 && strings.Contains(body, "no peer connected (1 known)")
	})
	if code, body := readyz(startDaemon(t, bin, t.TempDir())); code != 200 {
		t.Errorf("a lone new peer that knows no one: readyz %d %q, want ready", code, body)
	}
}
