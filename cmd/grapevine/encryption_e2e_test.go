package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEncryptionEndToEnd: a key from `grapevine keygen encryption`, a
// daemon with --encryption-key-file, a canary put through the CLI is in no
// file under --data, before and after a restart that still serves it; a
// wrong key, no key or a malformed key file is refused with a clear
// message and changes no file; rekey swaps the key of a stopped peer.
func TestEncryptionEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs daemons")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	data := filepath.Join(root, "data")
	keyFile := filepath.Join(root, "encryption.key")
	out, err := exec.Command(bin, "keygen", "encryption").Output()
	if err != nil {
		t.Fatalf("keygen encryption: %v", err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).Match(out) {
		t.Fatalf("keygen encryption printed %q, want 64 hex characters and a newline", out)
	}
	if err := os.WriteFile(keyFile, out, 0o600); err != nil {
		t.Fatal(err)
	}
	hexKey := strings.TrimSpace(string(out))

	r := make([]byte, 12)
	if _, err := rand.Read(r); err != nil {
		t.Fatal(err)
	}
	canary := "grapevine-plaintext-canary-" + hex.EncodeToString(r)

	d := startDaemon(t, bin, data, "--encryption-key-file", keyFile)
	d.mustCLI("put", "secret", canary)
	if got := d.mustCLI("get", "secret"); got != canary {
		t.Fatalf("get secret = %q", got)
	}
	if f := testutil.FilesContaining(t, data, canary)[canary]; len(f) > 0 {
		t.Errorf("the canary is in plaintext on disk while the daemon runs: %v", f)
	}
	d.stop()
	if f := testutil.FilesContaining(t, data, canary)[canary]; len(f) > 0 {
		t.Errorf("the canary is in plaintext on disk after the daemon stopped: %v", f)
	}
	if strings.Contains(d.log.String(), hexKey) {
		t.Error("the daemon logged the key")
	}

	d = startDaemon(t, bin, data, "--encryption-key-file", keyFile)
	if got := d.mustCLI("get", "secret"); got != canary {
		t.Fatalf("after a restart: get secret = %q, want the canary", got)
	}
	d.stop()

	// Refusals: each leaves every file as it was.
	wrongKey := filepath.Join(root, "wrong.key")
	if err := os.WriteFile(wrongKey, []byte(strings.Repeat("ab", 32)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shortKey := filepath.Join(root, "short.key")
	if err := os.WriteFile(shortKey, []byte(hexKey[:40]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := testutil.DirSnapshot(t, data)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"wrong key", []string{"--encryption-key-file", wrongKey}, 1, []string{
			"the encryption key does not match the one this data directory was written with",
			"accessible to group or others; chmod 600 it", // the wrong key file is 0644
		}},
		{"no key", nil, 1, []string{
			"the encryption key does not match the one this data directory was written with",
			"the directory is encrypted and no key was given",
		}},
		{"malformed key file", []string{"--encryption-key-file", shortKey}, 2, []string{
			"holds 41 bytes; want 64 hex characters",
		}},
		{"unreadable key file", []string{"--encryption-key-file", filepath.Join(root, "absent.key")}, 2, []string{
			"reading the encryption key file", "no such file",
		}},
	} {
		code, stderr := runFailingDaemon(t, bin, data, tc.args...)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s", tc.name, code, tc.code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", tc.name, w, stderr)
			}
		}
		if strings.Contains(stderr, hexKey) || strings.Contains(stderr, hexKey[:40]) {
			t.Errorf("%s: stderr shows the key", tc.name)
		}
		t.Logf("%s, as the user sees it:\n%s", tc.name, lastLine(stderr))
		testutil.SameSnapshot(t, tc.name, before, testutil.DirSnapshot(t, data))
	}

	// rekey: the old key stops working, the new one serves the data.
	newKey := filepath.Join(root, "new.key")
	out, err = exec.Command(bin, "keygen", "encryption").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newKey, out, 0o600); err != nil {
		t.Fatal(err)
	}
	rekey := exec.Command(bin, "rekey", "--data", data, "--encryption-key-file", keyFile, "--new-encryption-key-file", newKey)
	if out, err := rekey.CombinedOutput(); err != nil {
		t.Fatalf("rekey: %v\n%s", err, out)
	}
	if code, stderr := runFailingDaemon(t, bin, data, "--encryption-key-file", keyFile); code != 1 || !strings.Contains(stderr, "does not match") {
		t.Errorf("old key after rekey: exit %d\n%s", code, stderr)
	}
	d = startDaemon(t, bin, data, "--encryption-key-file", newKey)
	if got := d.mustCLI("get", "secret"); got != canary {
		t.Fatalf("after rekey: get secret = %q, want the canary", got)
	}
	// rekey refuses while the daemon runs.
	rekey = exec.Command(bin, "rekey", "--data", data, "--encryption-key-file", newKey, "--new-encryption-key-file", keyFile)
	if out, err := rekey.CombinedOutput(); err == nil {
		t.Errorf("rekey succeeded on a running peer: %s", out)
	}
	d.stop()
	if f := testutil.FilesContaining(t, data, canary)[canary]; len(f) > 0 {
		t.Errorf("the canary is in plaintext on disk after rekey: %v", f)
	}
}

// runFailingDaemon runs a daemon expected to exit at once, and returns its
// exit code and standard error.
func runFailingDaemon(t *testing.T, bin, data string, extra ...string) (int, string) {
	t.Helper()
	args := append([]string{"daemon", "--data", data, "--api", "127.0.0.1:0",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--mdns=false", "--network", "e2e"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GRAPEVINE_ENCRYPTION_KEY_FILE=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), stderr.String()
		}
		t.Fatalf("daemon %v: exited with %v, want a failure\n%s", extra, err, stderr.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("daemon %v still running after 30 s, want a failure\n%s", extra, stderr.String())
	}
	return 0, ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
