package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// grpcurlBin is grpcurl (a tool of go.mod), built once for the tests.
var grpcurlBin = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "tool", "-n", "grpcurl").Output()
	return strings.TrimSpace(string(out)), err
})

// grpcurl runs grpcurl with args, bounded by a deadline.
func grpcurl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin, err := grpcurlBin()
	if err != nil {
		t.Fatalf("go tool -n grpcurl: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// grpcListening matches the daemon's log line with the gRPC address.
var grpcListening = regexp.MustCompile(`msg="gRPC API listening" addr=(\S+)`)

// grpcAddr waits for the daemon to log its gRPC address.
func (d *daemon) grpcAddr() string {
	d.t.Helper()
	var addr string
	testutil.Eventually(d.t, "the gRPC address in the log", func() bool {
		m := grpcListening.FindStringSubmatch(d.logText())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	return addr
}

// TestGRPCWithGrpcurl drives the daemon's gRPC door with grpcurl, a
// client that knows nothing of grapevine but what reflection tells it: it
// lists the services, reads a value put through the CLI, is refused
// without a token, and a second daemon on the same --grpc port is refused
// up front.
func TestGRPCWithGrpcurl(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokenFile, []byte(e2eWriteToken+" write\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, filepath.Join(dir, "data"), "--grpc", "127.0.0.1:0", "--api-token-file", tokenFile)
	addr := d.grpcAddr()
	d.mustCLI("put", "--token", e2eWriteToken, "greeting", "hello")

	out, errOut, code := grpcurl(t, "-plaintext", addr, "list")
	for _, svc := range []string{"grapevine.v1.KV", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if code != 0 || !strings.Contains(out, svc+"\n") {
			t.Errorf("grpcurl list: exit %d, %q %q; want %s listed", code, out, errOut, svc)
		}
	}
	out, errOut, code = grpcurl(t, "-plaintext", addr, "grpc.health.v1.Health/Check")
	if code != 0 || !strings.Contains(out, `"SERVING"`) {
		t.Errorf("health check: exit %d, %q %q", code, out, errOut)
	}

	req := `{"key": "` + base64.StdEncoding.EncodeToString([]byte("greeting")) + `"}`
	out, errOut, code = grpcurl(t, "-plaintext", "-H", "authorization: Bearer "+e2eWriteToken, "-d", req, addr, "grapevine.v1.KV/Get")
	var got struct {
		Value   []byte `json:"value"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || string(got.Value) != "hello" || got.Version == "" {
		t.Errorf("grpcurl Get: exit %d, %q %q (%v); want the value hello", code, out, errOut, err)
	}
	_, errOut, code = grpcurl(t, "-plaintext", "-d", req, addr, "grapevine.v1.KV/Get")
	if code == 0 || !strings.Contains(errOut, "Code: Unauthenticated") || !strings.Contains(errOut, "needs an API token") {
		t.Errorf("grpcurl Get without a token: exit %d, %q; want Unauthenticated", code, errOut)
	}
	absent := `{"key": "` + base64.StdEncoding.EncodeToString([]byte("absent")) + `"}`
	_, errOut, code = grpcurl(t, "-plaintext", "-H", "authorization: Bearer "+e2eWriteToken, "-d", absent, addr, "grapevine.v1.KV/Get")
	if code == 0 || !strings.Contains(errOut, "Code: NotFound") || !strings.Contains(errOut, `"reason": "not_found"`) {
		t.Errorf("grpcurl Get of an absent key: exit %d, %q; want NotFound", code, errOut)
	}

	code, errOut = runFailingDaemon(t, bin, t.TempDir(), "--grpc", addr)
	if want := "grapevine: --grpc " + addr + ": the address is already in use by another process"; code != 1 || !strings.HasPrefix(errOut, want) {
		t.Errorf("a second daemon on --grpc %s: exit %d, %q; want 1 and %q", addr, code, errOut, want)
	}
	code, errOut = runFailingDaemon(t, bin, t.TempDir(), "--grpc", "0.0.0.0:0")
	if code != 2 || !strings.Contains(errOut, "refusing to serve the gRPC API on 0.0.0.0:0 without API tokens") {
		t.Errorf("--grpc beyond loopback without tokens: exit %d, %q; want 2", code, errOut)
	}
	d.stop()
	if !strings.Contains(d.logText(), "gRPC API listening") || strings.Contains(d.logText(), "a door stopped") {
		t.Errorf("the daemon's log: %s", d.logText())
	}
}
