package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// counter reads an unlabelled counter with the metric helper (0 if absent).
func (d *daemon) counter(name string) float64 {
	f, _ := strconv.ParseFloat(d.metric(name), 64)
	return f
}

// cliStdin runs the CLI like cli, with stdin as its standard input.
func (d *daemon) cliStdin(stdin string, args ...string) (string, string, int) {
	cmd := exec.Command(d.bin, append(args[:1:1], append([]string{"--data", d.data}, args[1:]...)...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// version reads a key's version with get -o json.
func (d *daemon) version(key string) string {
	d.t.Helper()
	var e struct{ Version uint64 }
	if err := json.Unmarshal([]byte(d.mustCLI("get", "-o", "json", key)), &e); err != nil || e.Version == 0 {
		d.t.Fatalf("get -o json %s: version %d, %v", key, e.Version, err)
	}
	return strconv.FormatUint(e.Version, 10)
}

// TestConditionalTTLTxnEndToEnd drives two daemons through the CLI: a CAS
// race on two peers (both accepted, one wins, the metric counts it), TTL
// expiry seen on both peers, and a transaction seen whole on the other
// peer.
func TestConditionalTTLTxnEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs daemons")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	a := startDaemon(t, bin, filepath.Join(root, "a"), "--test-hooks")
	b := startDaemon(t, bin, filepath.Join(root, "b"), "--test-hooks", "--bootstrap", a.tcpAddr())
	a.waitPeers(1)
	b.waitPeers(1)

	// On one peer a condition is exact.
	a.mustCLI("put", "--if-absent", "lock", "v0")
	if _, errOut, code := a.cli("put", "--if-absent", "lock", "again"); code != 1 || !strings.Contains(errOut, "precondition failed") {
		t.Fatalf("put --if-absent on a present key: exit %d, %q", code, errOut)
	}
	b.waitValue("lock", "v0")
	v0 := b.version("lock")

	// Across peers it is not: cut a off, CAS on both, heal.
	a.hook("isolate?on=true")
	var wg sync.WaitGroup
	for _, d := range []*daemon{a, b} {
		wg.Go(func() {
			if _, errOut, code := d.cli("put", "--cas", v0, "lock", "from-"+filepath.Base(d.data)); code != 0 {
				t.Errorf("put --cas %s on %s: exit %d, %s", v0, d.data, code, errOut)
			}
		})
	}
	wg.Wait()
	a.hook("isolate?on=false")
	a.hook("reconnect")
	testutil.Eventually(t, "one CAS winner on both peers", func() bool {
		va, _, ca := a.cli("get", "lock")
		vb, _, cb := b.cli("get", "lock")
		return ca == 0 && cb == 0 && va == vb && va != "v0"
	})
	testutil.Eventually(t, "the overwritten CAS counted once", func() bool {
		return a.counter("grapevine_cas_overwritten_total")+b.counter("grapevine_cas_overwritten_total") == 1
	})

	// TTL: the value is read on both peers until it expires, then on neither.
	a.mustCLI("put", "--ttl", "30s", "session", "alive")
	b.waitValue("session", "alive")
	for _, d := range []*daemon{a, b} {
		d.hook("clock?skew=31s")
	}
	for _, d := range []*daemon{a, b} {
		if _, errOut, code := d.cli("get", "session"); code != codeNotFound || !strings.Contains(errOut, "not found") {
			t.Fatalf("get after expiry on %s: exit %d, %q", d.data, code, errOut)
		}
		if out := d.mustCLI("ls", "--keys-only"); strings.Contains(out, "session") {
			t.Fatalf("ls after expiry on %s lists it: %q", d.data, out)
		}
	}
	b.mustCLI("put", "--if-absent", "session", "renewed") // expired counts as absent

	// A transaction from a file, seen whole on the other peer.
	file := filepath.Join(root, "ops.json")
	ops := `{"ops": [{"op": "put", "key": "t/a", "value": "MQ=="}, {"op": "put", "key": "t/b", "value": "Mg=="}, {"op": "del", "key": "lock"}, {"op": "incr", "key": "t/n", "by": 2}]}`
	if err := os.WriteFile(file, []byte(ops), 0o600); err != nil {
		t.Fatal(err)
	}
	out := a.mustCLI("txn", file)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || lines[3] != "incr t/n 2" {
		t.Fatalf("txn printed %q", out)
	}
	b.waitValue("t/a", "1")
	if got := b.mustCLI("get", "t/b"); got != "2" {
		t.Fatalf("t/b on b = %q once t/a is there, want 2", got)
	}
	if got := strings.TrimSpace(b.mustCLI("incr", "t/n", "0")); got != "2" {
		t.Fatalf("t/n on b = %q, want 2", got)
	}
	if _, _, code := b.cli("get", "lock"); code != codeNotFound {
		t.Fatalf("the txn's delete did not reach b")
	}
	// All or nothing: a failed condition changes nothing.
	if _, errOut, code := a.cliStdin(`{"ops": [{"op": "incr", "key": "t/n", "by": 5}, {"op": "put", "key": "t/a", "value": "eA==", "if_absent": true}]}`, "txn"); code != 1 || !strings.Contains(errOut, "op 1 (put)") {
		t.Fatalf("txn with a failing condition: exit %d, %q", code, errOut)
	}
	if got := strings.TrimSpace(a.mustCLI("incr", "t/n", "0")); got != "2" {
		t.Fatalf("a refused txn changed t/n to %s", got)
	}
}
