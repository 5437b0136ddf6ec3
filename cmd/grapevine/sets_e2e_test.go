package main

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// hook calls a test hook (POST /v1/test/...) of a daemon started with
// --test-hooks.
func (d *daemon) hook(path string) {
	d.t.Helper()
	addr, err := api.ReadAddrFile(d.data)
	if err != nil {
		d.t.Fatal(err)
	}
	resp, err := http.Post("http://"+addr+api.TestHookPrefix+path, "", nil)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		body, _ := io.ReadAll(resp.Body)
		d.t.Fatalf("POST %s: %s %s", path, resp.Status, body)
	}
}

// run runs the CLI: a "set SUB" command gets --data after SUB (client
// flags follow the subcommand), any other after the command, as cli does.
func (d *daemon) run(args ...string) (string, string, int) {
	if args[0] != "set" {
		return d.cli(args...)
	}
	cmd := exec.Command(d.bin, append([]string{"set", args[1], "--data", d.data}, args[2:]...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), stderr.String(), ee.ExitCode()
	} else if err != nil {
		d.t.Fatal(err)
	}
	return stdout.String(), stderr.String(), 0
}

func (d *daemon) mustRun(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.run(args...)
	if code != 0 {
		d.t.Fatalf("grapevine %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// waitOutput polls a CLI command on d until it prints want.
func (d *daemon) waitOutput(want string, args ...string) {
	d.t.Helper()
	testutil.Eventually(d.t, strings.Join(args, " ")+" prints "+want+" on "+d.data, func() bool {
		out, _, _ := d.run(args...)
		return out == want
	})
}

// TestSetsAndResetEndToEnd: two daemons, driven through the CLI. Across a
// partition, one resets a counter while the other increments it, and one
// removes set members while the other adds one of them again. After
// healing both read the concurrent increment (reset kept it) and the
// re-added member (add wins); ls and get show what each name is.
func TestSetsAndResetEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs daemons")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	a := startDaemon(t, bin, filepath.Join(root, "a"), "--test-hooks")
	b := startDaemon(t, bin, filepath.Join(root, "b"), "--test-hooks", "--bootstrap", a.tcpAddr())
	a.waitPeers(1)
	b.waitPeers(1)

	a.mustCLI("incr", "hits", "5")
	a.mustRun("set", "add", "tags", "red", "blue")
	b.waitOutput("5\n", "incr", "hits", "0")
	b.waitOutput("blue\nred\n", "set", "members", "tags")

	a.hook("isolate?on=true")
	for _, d := range []*daemon{a, b} {
		d.waitOutput("", "peers")
	}
	a.mustCLI("del", "--counter", "hits")
	if out := a.mustCLI("incr", "hits", "0"); out != "0\n" {
		t.Fatalf("after the reset a reads %q", out)
	}
	b.mustCLI("incr", "hits", "3")
	a.mustRun("set", "rm", "tags", "red", "blue")
	b.mustRun("set", "add", "tags", "red", "green")
	if out, _, code := a.run("set", "has", "tags", "red"); out != "false\n" || code != codeNotFound {
		t.Fatalf("set has on a during the partition: %q, exit %d", out, code)
	}

	a.hook("isolate?on=false")
	a.hook("reconnect")
	for _, d := range []*daemon{a, b} {
		d.waitOutput("3\n", "incr", "hits", "0")
		d.waitOutput("green\nred\n", "set", "members", "tags")
		d.waitOutput("hits\tcounter\t3\ntags\tset\tgreen,red\n", "ls")
	}
	if out, _, code := b.run("set", "has", "tags", "blue"); out != "false\n" || code != codeNotFound {
		t.Fatalf("blue came back: %q, exit %d", out, code)
	}
	_, errOut, code := b.cli("get", "tags")
	if code != 1 || !strings.Contains(errOut, `key "tags" is a set, not a value: read it with `+"`grapevine set members tags`") {
		t.Fatalf("get on a set name: exit %d, %q", code, errOut)
	}
}
