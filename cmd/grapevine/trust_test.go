package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/peer"
)

func TestKeygenSwarm(t *testing.T) {
	keys := make([]string, 2)
	for i := range keys {
		var out, errOut bytes.Buffer
		if code := run([]string{"grapevine", "keygen", "swarm"}, nil, &out, &errOut); code != 0 {
			t.Fatalf("keygen swarm: exit %d: %s", code, errOut.String())
		}
		if !strings.HasPrefix(out.String(), "/key/swarm/psk/1.0.0/\n/base16/\n") {
			t.Fatalf("keygen swarm printed %q, want the swarm.key format", out.String())
		}
		key, err := peer.DecodePrivateNetworkKey(strings.NewReader(out.String()))
		if err != nil || len(key) != 32 {
			t.Fatalf("keygen swarm output does not decode: %v", err)
		}
		keys[i] = out.String()
	}
	if keys[0] == keys[1] {
		t.Error("two keygen swarm runs printed the same key")
	}
}

func TestDaemonBadTrustFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("# peers\nnot-a-peer-id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"swarm key":       {"--swarm-key", bad},
		"missing key":     {"--swarm-key", filepath.Join(dir, "missing")},
		"allowlist":       {"--allow-peers", bad},
		"missing allowed": {"--allow-peers", filepath.Join(dir, "missing")},
	} {
		var out, errOut bytes.Buffer
		code := run(append([]string{"grapevine", "daemon", "--data", t.TempDir(), "--api", "127.0.0.1:0",
			"--listen", "/ip4/127.0.0.1/tcp/0", "--mdns=false", "--log-level", "error"}, args...), nil, &out, &errOut)
		if code == 0 || !strings.Contains(errOut.String(), args[1]) {
			t.Errorf("%s: exit %d, stderr %q; want an error naming the file", name, code, errOut.String())
		}
		if name == "allowlist" && !strings.Contains(errOut.String(), "line 2") {
			t.Errorf("bad allowlist: stderr %q does not name line 2", errOut.String())
		}
	}
}

// metric returns the value of a metric line (name with labels) of d, or "".
func (d *daemon) metric(line string) string {
	addr, err := api.ReadAddrFile(d.data)
	if err != nil {
		return ""
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, line+" "); ok {
			return v
		}
	}
	return ""
}

// TestEndToEndSwarmKeyAndAllowlist: a starts with a swarm key and an empty
// allowlist; b (same key) is refused until the allowlist lists it and a
// gets SIGHUP, then they replicate; c (no key) never becomes a peer.
func TestEndToEndSwarmKeyAndAllowlist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs daemons")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	var keyOut, errOut bytes.Buffer
	if code := run([]string{"grapevine", "keygen", "swarm"}, nil, &keyOut, &errOut); code != 0 {
		t.Fatal(errOut.String())
	}
	key, allow := filepath.Join(root, "swarm.key"), filepath.Join(root, "allow")
	if err := os.WriteFile(key, keyOut.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(allow, []byte("# nobody yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startDaemon(t, bin, filepath.Join(root, "a"), "--swarm-key", key, "--allow-peers", allow)
	boot := a.tcpAddr()
	b := startDaemon(t, bin, filepath.Join(root, "b"), "--swarm-key", key, "--bootstrap", boot)
	c := startDaemon(t, bin, filepath.Join(root, "c"), "--bootstrap", boot)
	if strings.Contains(a.mustCLI("id"), "/quic-v1") {
		t.Error("a listens on QUIC with a swarm key")
	}
	testutil.Eventually(t, "b refused by a's allowlist", func() bool {
		v := a.metric(`grapevine_peer_refusals_total{reason="allowlist"}`)
		return v != "" && v != "0"
	})
	if out := a.mustCLI("peers"); strings.TrimSpace(out) != "" {
		t.Fatalf("a has peers %q with an empty allowlist", out)
	}

	id := peerID(t, b)
	if err := os.WriteFile(allow, []byte(fmt.Sprintf("# b\n%s\n", id)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	a.waitPeers(1)
	a.mustCLI("put", "secret", "for b only")
	b.waitValue("secret", "for b only")
	if out, _, _ := c.cli("peers"); strings.TrimSpace(out) != "" {
		t.Errorf("c, without the swarm key, has peers %q", out)
	}
	if _, _, code := c.cli("get", "secret"); code == 0 {
		t.Error("c, without the swarm key, has a's data")
	}
	for _, want := range []string{"private network on", "allowlist on", "SIGHUP: reloading the allowlist", "allowlist reloaded", "refused peer: not in the allowlist"} {
		if !strings.Contains(a.log.String(), want) {
			t.Errorf("a's log lacks %q", want)
		}
	}
	if strings.Contains(a.log.String(), strings.Fields(keyOut.String())[2]) {
		t.Error("a's log shows the swarm key")
	}
}

// peerID returns d's peer ID, from the /p2p/ suffix of `grapevine id`.
func peerID(t *testing.T, d *daemon) string {
	t.Helper()
	addr := d.tcpAddr()
	return addr[strings.LastIndex(addr, "/")+1:]
}
