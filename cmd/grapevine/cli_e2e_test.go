package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// gv runs the binary with args exactly as given, stdin from in, bounded
// by a generous deadline so a hang fails the test instead of stalling it.
func gv(t *testing.T, bin string, in []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "GRAPEVINE_API=", "GRAPEVINE_DATA="+t.TempDir())
	cmd.Stdin = bytes.NewReader(in)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("grapevine %s hung", strings.Join(args, " "))
	}
	return out.String(), errOut.String(), code
}

// apiAddr is the API address the daemon wrote.
func (d *daemon) apiAddr() string {
	d.t.Helper()
	addr, err := api.ReadAddrFile(d.data)
	if err != nil {
		d.t.Fatal(err)
	}
	return addr
}

// TestCLITable drives one daemon through the binary as a person would:
// flags before and after arguments, global flags before the command, exit
// codes, output formats.
func TestCLITable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a daemon")
	}
	bin := buildBinary(t)
	d := startDaemon(t, bin, t.TempDir())
	addr := d.apiAddr()
	d.mustCLI("put", "greeting", "hello")
	entry := func(out string) apitype.Entry {
		var e apitype.Entry
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			t.Fatalf("not a JSON entry: %q", out)
		}
		return e
	}
	cases := []struct {
		name   string
		args   []string
		in     string
		code   int
		stdout string // exact, unless check is set
		stderr string // contained
		check  func(stdout string) bool
	}{
		{"flags after the key", []string{"get", "greeting", "-o", "json", "--api", addr}, "", 0, "", "",
			func(o string) bool {
				e := entry(o)
				return string(e.Value) == "hello" && e.Version != 0 && e.Key == "greeting"
			}},
		{"global flags before the command", []string{"-o", "json", "--api", addr, "get", "greeting"}, "", 0, "", "",
			func(o string) bool { return string(entry(o).Value) == "hello" }},
		{"--flag=value form", []string{"get", "--api=" + addr, "--output=json", "greeting"}, "", 0, "", "",
			func(o string) bool { return string(entry(o).Value) == "hello" }},
		{"raw bytes on a pipe", []string{"get", "greeting", "--api", addr}, "", 0, "hello", "", nil},
		{"not found is 3", []string{"get", "nope", "--api", addr}, "", codeNotFound, "", `key "nope" not found`, nil},
		{"namespace after the key", []string{"get", "greeting", "--ns", "other", "--api", addr}, "", codeNotFound, "", "not found", nil},
		{"put -o json has the version", []string{"put", "k2", "v2", "-o", "json", "--api", addr}, "", 0, "", "",
			func(o string) bool { return entry(o).Version != 0 }},
		{"value from stdin, flag last", []string{"put", "bin", "-", "--api", addr}, "a\tb\nc\x00", 0, "", "", nil},
		{"binary value raw", []string{"get", "bin", "--api", addr}, "", 0, "a\tb\nc\x00", "", nil},
		{"ls quotes what would break a line", []string{"ls", "--prefix", "bin", "--api", addr}, "", 0, "bin\tregister\t\"a\\tb\\nc\\x00\"\n", "", nil},
		{"negative number argument", []string{"incr", "stock", "-5", "--api", addr}, "", 0, "-5\n", "", nil},
		{"-- ends the flags", []string{"incr", "--api", addr, "--", "stock", "-1"}, "", 0, "-6\n", "", nil},
		{"subcommand flags after arguments", []string{"set", "add", "tags", "red", "green", "--api", addr, "--ns", "t"}, "", 0, "", "", nil},
		{"subcommand global flags first", []string{"--ns", "t", "--api", addr, "set", "members", "tags"}, "", 0, "green\nred\n", "", nil},
		{"set has a missing member is 3", []string{"set", "has", "tags", "blue", "--ns", "t", "--api", addr}, "", codeNotFound, "false\n", "", nil},
		{"id -o json", []string{"id", "-o", "json", "--api", addr}, "", 0, "", "", func(o string) bool {
			var v struct {
				ID    string   `json:"id"`
				Addrs []string `json:"addrs"`
			}
			return json.Unmarshal([]byte(o), &v) == nil && strings.HasPrefix(v.ID, "12D3") && len(v.Addrs) > 0
		}},
		{"version -o json before the command", []string{"-o", "json", "version"}, "", 0, "", "", func(o string) bool {
			var v versionInfo
			return json.Unmarshal([]byte(o), &v) == nil && v.Version != ""
		}},
		{"a flag the command ignores is refused", []string{"peers", "--ns", "x", "--api", addr}, "", codeUsage, "", "grapevine peers takes no flag --ns", nil},
		{"-o on a silent command is refused", []string{"del", "k2", "-o", "json", "--api", addr}, "", codeUsage, "", "takes no flag -o", nil},
		{"unknown flag", []string{"get", "greeting", "--bogus", "--api", addr}, "", codeUsage, "", "takes no flag --bogus", nil},
		{"bad flag value", []string{"get", "greeting", "--timeout", "soon", "--api", addr}, "", codeUsage, "", "invalid value", nil},
		{"missing argument", []string{"get", "--api", addr}, "", codeUsage, "", "usage: grapevine get KEY", nil},
		{"unknown command", []string{"fetch", "greeting"}, "", codeUsage, "", `unknown command "fetch"`, nil},
		{"unknown subcommand", []string{"set", "pop", "tags"}, "", codeUsage, "", `no subcommand "pop"`, nil},
		{"unknown help topic", []string{"help", "fetch"}, "", codeUsage, "", "No help topic", nil},
		{"bad output format", []string{"get", "greeting", "-o", "yaml", "--api", addr}, "", codeUsage, "", "--output must be text or json", nil},
		{"unreachable is 1", []string{"get", "greeting", "--api", "127.0.0.1:1"}, "", codeError, "", "no grapevine daemon reachable", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := gv(t, bin, []byte(tc.in), tc.args...)
			ok := code == tc.code && strings.Contains(errOut, tc.stderr)
			if tc.check != nil {
				ok = ok && tc.check(out)
			} else {
				ok = ok && out == tc.stdout
			}
			if !ok {
				t.Fatalf("grapevine %q: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q",
					tc.args, code, out, errOut, tc.code, tc.stdout, tc.stderr)
			}
		})
	}

	// On a terminal, get ends the value with a newline (script gives the
	// command a pseudo-terminal).
	if script, err := exec.LookPath("script"); err == nil {
		out, err := exec.Command(script, "-qec", bin+" get greeting --api "+addr, "/dev/null").Output()
		if err != nil || string(out) != "hello\r\n" {
			t.Fatalf("get on a terminal printed %q (%v), want the value and a newline", out, err)
		}
	}

	// watch prints a multi-line value on one line.
	wctx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	watch := exec.CommandContext(wctx, bin, "watch", "--prefix", "w/", "--api", addr)
	pipe, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stopWatch(); _ = watch.Wait() }()
	lines := linesOf(pipe)
	testutil.Eventually(t, "the watch is connected", func() bool {
		d.mustCLI("put", "w/probe", "x")
		select {
		case <-lines:
			return true
		default:
			return false
		}
	})
	d.mustCLI("put", "w/multi", "line1\nline2")
	for line := range lines {
		if strings.HasPrefix(line, "put w/multi") {
			if line != `put w/multi "line1\nline2"` {
				t.Fatalf("watch printed %q for a two-line value", line)
			}
			break
		}
	}
}

// TestHelpOfEveryCommand: every command's --help exits 0 with an example,
// and the top help documents the exit codes.
func TestHelpOfEveryCommand(t *testing.T) {
	var paths [][]string
	for _, c := range commands() {
		paths = append(paths, []string{c.Name})
		for _, s := range c.Subcommands {
			paths = append(paths, []string{c.Name, s.Name})
		}
	}
	for _, p := range paths {
		var out, errOut bytes.Buffer
		if code := run(append(append([]string{"grapevine"}, p...), "--help"), nil, &out, &errOut); code != 0 {
			t.Errorf("grapevine %s --help: exit %d: %s", strings.Join(p, " "), code, errOut.String())
		}
		if !strings.Contains(out.String(), "Example") {
			t.Errorf("grapevine %s --help has no example:\n%s", strings.Join(p, " "), out.String())
		}
	}
	var out bytes.Buffer
	run([]string{"grapevine", "get", "--help"}, nil, &out, &out)
	for _, want := range []string{"--api HOST:PORT[,HOST:PORT...]", "--data DIR", "--ns NAMESPACE", "--timeout DURATION", "--output FORMAT, -o FORMAT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("get --help lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	run([]string{"grapevine", "--help"}, nil, &out, &out)
	if !strings.Contains(out.String(), "0 ok, 1 error") || !strings.Contains(out.String(), "3 not found") {
		t.Errorf("grapevine --help does not document the exit codes:\n%s", out.String())
	}
}

// TestCompletionBash sources `grapevine completion bash` in bash and
// completes as a user's Tab would.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	bin := buildBinary(t)
	for _, tc := range []struct{ line, want string }{
		{"grapevine se", "set"},
		{"grapevine set a", "add"},
		{"grapevine get --ba", "--balance"},
		{"grapevine set add --ns x tags --ti", "--timeout"},
	} {
		words := strings.Fields(tc.line)
		script := `source <("$BIN" completion bash); COMP_WORDS=(` + tc.line + `); COMP_CWORD=` + strconv.Itoa(len(words)-1) + `; _grapevine; echo "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, "-c", script)
		cmd.Env = append(os.Environ(), "BIN="+bin)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("completing %q: %q (%v), want %q", tc.line, out, err, tc.want)
		}
	}
	for _, sh := range []string{"zsh", "fish"} {
		out, _, code := gv(t, bin, nil, "completion", sh)
		if code != 0 || !strings.Contains(out, "grapevine") || !strings.Contains(out, "balance") {
			t.Errorf("completion %s: exit %d, %q", sh, code, out)
		}
	}
}

// TestFailoverPausedPeer: with the first --api endpoint paused (SIGSTOP),
// reads and puts go to the next one within --timeout; an incr is not
// re-sent, and says why.
func TestFailoverPausedPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs daemons")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	a := startDaemon(t, bin, filepath.Join(root, "a"))
	b := startDaemon(t, bin, filepath.Join(root, "b"))
	b.mustCLI("put", "greeting", "from b")
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.cmd.Process.Signal(syscall.SIGCONT) })
	both := a.apiAddr() + "," + b.apiAddr()
	if out, errOut, code := gv(t, bin, nil, "get", "greeting", "--api", both, "--timeout", "1s"); code != 0 || out != "from b" {
		t.Fatalf("get with the first peer paused: exit %d, %q, %s", code, out, errOut)
	}
	if _, errOut, code := gv(t, bin, nil, "put", "k", "v", "--api", both, "--timeout", "1s"); code != 0 {
		t.Fatalf("put with the first peer paused: exit %d: %s", code, errOut)
	}
	b.waitValue("k", "v")
	_, errOut, code := gv(t, bin, nil, "incr", "n", "--api", both, "--timeout", "1s")
	if code != codeError || !strings.Contains(errOut, "may have been applied") {
		t.Fatalf("incr with the first peer paused: exit %d, %q; want 1 saying it may have been applied", code, errOut)
	}
}

// TestSyncWaitAndAll: sync --wait waits for a first peer within --timeout;
// --all ends once a pass over every connected peer is clean.
func TestSyncWaitAndAll(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs daemons")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	a := startDaemon(t, bin, filepath.Join(root, "a"))
	if _, errOut, code := a.cli("sync", "--wait", "--timeout", "300ms"); code != codeError || !strings.Contains(errOut, "no peer connected within 300ms") {
		t.Fatalf("sync --wait alone: exit %d, %q", code, errOut)
	}
	for i := range 50 {
		a.mustCLI("put", fmt.Sprintf("k%02d", i), "v")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	wait := exec.CommandContext(ctx, bin, "sync", "--wait", "--data", a.data, "--timeout", "50s")
	var out bytes.Buffer
	wait.Stdout = &out
	stderr, err := wait.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := wait.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil || !strings.Contains(line, "no peer connected yet; waiting") {
		t.Fatalf("sync --wait said %q (%v), want that it waits", line, err)
	}
	b := startDaemon(t, bin, filepath.Join(root, "b"), "--bootstrap", a.tcpAddr())
	if err := wait.Wait(); err != nil || !strings.Contains(out.String(), "in sync with") {
		t.Fatalf("sync --wait once a peer came: %v, %q", err, out.String())
	}
	c := startDaemon(t, bin, filepath.Join(root, "c"), "--bootstrap", a.tcpAddr())
	a.waitPeers(2)
	if got := a.mustCLI("sync", "--all"); !strings.Contains(got, "in sync with all 2 connected peers") {
		t.Fatalf("sync --all printed %q", got)
	}
	b.waitValue("k00", "v")
	c.waitValue("k49", "v")
}
