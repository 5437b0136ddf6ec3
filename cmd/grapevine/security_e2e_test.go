package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// The tokens of TestSecureAPI: distinctive, so the log check finds any leak.
const (
	e2eWriteToken  = "e2e-write-TOKEN-5d1f0c9a7b"
	e2eReadToken   = "e2e-read-TOKEN-8e2a4b6c1d"
	e2eTenantToken = "e2e-tenant-TOKEN-3c7e9f1a2b"
	e2eLateToken   = "e2e-late-TOKEN-6a0b2c4d8e"
	e2eBadToken    = "e2e-bad-TOKEN-0f9e8d7c6b"
)

// TestSecureAPI runs a daemon with API tokens and TLS and drives it with
// the CLI: with and without --token and --cacert, 401 and 403 as a person
// sees them, tokens re-read on SIGHUP, and no token in the daemon's log.
func TestSecureAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a daemon")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	certFile, keyFile, _ := testutil.SelfSignedCert(t, dir)
	tokenFile := filepath.Join(dir, "tokens")
	tokens := "# e2e tokens\n" + e2eWriteToken + " write\n" + e2eReadToken + " read\n" + e2eTenantToken + " write tenant-*\n"
	if err := os.WriteFile(tokenFile, []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	d := startDaemon(t, bin, data, "--api-token-file", tokenFile, "--api-tls-cert", certFile, "--api-tls-key", keyFile)
	if addr, err := api.ReadAddrFile(data); err != nil || !strings.HasPrefix(addr, "https://127.0.0.1:") {
		t.Fatalf("the address file holds %q, %v; want an https:// URL", addr, err)
	}

	ca := "--cacert=" + certFile
	tok := func(s string) string { return "--token=" + s }
	const (
		needToken = "grapevine: unauthorized: this daemon needs an API token (--token or GRAPEVINE_TOKEN)\n"
		badToken  = "grapevine: unauthorized: the daemon does not accept this API token (--token or GRAPEVINE_TOKEN)\n"
	)
	for _, tc := range []struct {
		args       []string
		code       int
		out, error string // error: all of stderr when it ends in \n, else a part of it
	}{
		{[]string{"put", ca, tok(e2eWriteToken), "k", "v"}, 0, "", ""},
		{[]string{"get", ca, tok(e2eWriteToken), "k"}, 0, "v", ""},
		{[]string{"get", ca, tok(e2eReadToken), "k"}, 0, "v", ""},
		{[]string{"put", ca, "k", "v"}, 1, "", needToken},
		{[]string{"get", ca, "k"}, 1, "", needToken},
		{[]string{"status", ca}, 1, "", needToken},
		{[]string{"watch", ca}, 1, "", needToken},
		{[]string{"get", ca, tok(e2eBadToken), "k"}, 1, "", badToken},
		{[]string{"put", ca, tok(e2eReadToken), "k", "v2"}, 1, "", "grapevine: forbidden: the token may not write namespace \"default\"\n"},
		{[]string{"del", ca, tok(e2eReadToken), "k"}, 1, "", "grapevine: forbidden: the token may not write namespace \"default\"\n"},
		{[]string{"incr", ca, tok(e2eReadToken), "c"}, 1, "", "grapevine: forbidden: the token may not write namespace \"default\"\n"},
		{[]string{"sync", ca, tok(e2eReadToken)}, 1, "", "grapevine: forbidden: the token may only read; POST /v1/sync needs a write token\n"},
		{[]string{"get", ca, tok(e2eTenantToken), "k"}, 1, "", "grapevine: forbidden: the token may not read namespace \"default\"\n"},
		{[]string{"put", ca, tok(e2eTenantToken), "--ns", "tenant-a", "k", "t"}, 0, "", ""},
		{[]string{"ls", ca, tok(e2eTenantToken), "--ns", "tenant-a"}, 0, "k\tregister\tt\n", ""},
		{[]string{"incr", ca, tok(e2eTenantToken), "--ns", "tenant-b", "c", "2"}, 0, "2\n", ""},
		{[]string{"peers", ca, tok(e2eTenantToken)}, 0, "", ""},
		{[]string{"status", ca, tok(e2eReadToken)}, 0, "", ""},
		{[]string{"get", tok(e2eWriteToken), "k"}, 1, "", "pass its CA with --cacert FILE"},
		{[]string{"get", "--cacert", filepath.Join(dir, "absent.pem"), "k"}, 2, "", "--cacert"},
		{[]string{"get", "--cacert", tokenFile, tok(e2eWriteToken), "k"}, 2, "", "no PEM certificate"},
	} {
		out, errOut, code := d.cli(tc.args...)
		okErr := errOut == tc.error
		if !strings.HasSuffix(tc.error, "\n") {
			okErr = strings.Contains(errOut, tc.error) && (tc.error != "" || errOut == "")
		}
		if code != tc.code || !okErr || (tc.out != "" && out != tc.out) {
			t.Errorf("grapevine %s: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q", strings.Join(tc.args, " "), code, out, errOut, tc.code, tc.out, tc.error)
		}
	}

	// The environment variables do what the flags do.
	cmd := exec.Command(bin, "get", "--data", data, "k")
	cmd.Env = append(os.Environ(), "GRAPEVINE_TOKEN="+e2eReadToken, "GRAPEVINE_CACERT="+certFile, "GRAPEVINE_API=")
	if out, err := cmd.Output(); err != nil || string(out) != "v" {
		t.Errorf("get with GRAPEVINE_TOKEN and GRAPEVINE_CACERT: %q, %v", out, err)
	}

	// SIGHUP re-reads the token file; a broken file keeps the old tokens.
	if _, _, code := d.cli("get", ca, tok(e2eLateToken), "k"); code != 1 {
		t.Fatalf("a token not yet in the file: exit %d", code)
	}
	if err := os.WriteFile(tokenFile, []byte(tokens+e2eLateToken+" read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the new token accepted after SIGHUP", func() bool {
		out, _, code := d.cli("get", ca, tok(e2eLateToken), "k")
		return code == 0 && out == "v"
	})
	if err := os.WriteFile(tokenFile, []byte("broken-line-with-"+e2eLateToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the broken token file reported", func() bool {
		return strings.Contains(d.logText(), "API tokens not reloaded")
	})
	if out := d.mustCLI("get", ca, tok(e2eLateToken), "k"); out != "v" {
		t.Fatalf("after a broken reload: %q", out)
	}

	d.stop()
	log := d.logText()
	if !strings.Contains(log, "API request refused") || !strings.Contains(log, "https://127.0.0.1:") {
		t.Errorf("the daemon's log lacks the refusals or the https URL:\n%s", log)
	}
	for _, s := range []string{e2eWriteToken, e2eReadToken, e2eTenantToken, e2eLateToken, e2eBadToken, "TOKEN-"} {
		if strings.Contains(log, s) {
			t.Errorf("the daemon's log contains a token (%s):\n%s", s, log)
		}
	}
}

// TestDaemonRefusesInsecureAPI: the daemon will not serve its API beyond
// loopback without tokens, nor start on a broken token file or half a TLS
// pair; each refusal happens before anything listens (0.0.0.0:0 is never
// bound) and never quotes a token. CheckExposure's own test covers
// --insecure-api, since binding a non-loopback address here could expose
// the test daemon.
func TestDaemonRefusesInsecureAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	const secret = "refused-TOKEN-1a2b3c4d"
	broken := filepath.Join(dir, "broken")
	if err := os.WriteFile(broken, []byte("# tokens\n"+secret+" admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, _, _ := testutil.SelfSignedCert(t, dir)
	data := filepath.Join(dir, "data")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--api", "0.0.0.0:0"}, "grapevine: refusing to serve the HTTP API on 0.0.0.0:0 without API tokens: it is not a loopback address, so anyone who can reach it could read and write every key. Give tokens with --api-token-file FILE, listen on 127.0.0.1, or pass --insecure-api to accept the risk\n"},
		{[]string{"--api", ":0"}, "refusing to serve the HTTP API on :0 without API tokens"},
		{[]string{"--api", "127.0.0.1:0", "--api-token-file", broken}, "grapevine: --api-token-file: api: token file " + broken + ": line 2: the second word must be read or write\n"},
		{[]string{"--api", "127.0.0.1:0", "--api-token-file", filepath.Join(dir, "absent")}, "--api-token-file: api: token file: open "},
		{[]string{"--api", "127.0.0.1:0", "--api-tls-cert", certFile}, "grapevine: --api-tls-cert and --api-tls-key go together: give both files, or neither\n"},
	} {
		cmd := exec.Command(bin, append([]string{"daemon", "--data", data, "--mdns=false", "--listen", "/ip4/127.0.0.1/tcp/0"}, tc.args...)...)
		cmd.Env = append(os.Environ(), "GRAPEVINE_API_LISTEN=", "GRAPEVINE_API_TOKEN_FILE=", "GRAPEVINE_INSECURE_API=")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		okMsg := string(out) == tc.want
		if !strings.HasSuffix(tc.want, "\n") {
			okMsg = strings.Contains(string(out), tc.want)
		}
		if code != 2 || !okMsg {
			t.Errorf("daemon %s: exit %d, output %q; want exit 2 and %q", strings.Join(tc.args, " "), code, out, tc.want)
		}
		if strings.Contains(string(out), secret) {
			t.Errorf("daemon %s: the output quotes the token: %q", strings.Join(tc.args, " "), out)
		}
	}
	if _, err := os.Stat(filepath.Join(data, api.AddrFile)); !os.IsNotExist(err) {
		t.Errorf("a refused daemon left an API address file: %v", err)
	}
}
