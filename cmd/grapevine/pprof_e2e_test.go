package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
)

var pprofListening = regexp.MustCompile(`msg="profiler listening" addr=http://(\S+)/debug/pprof/`)

// TestPprof: --pprof serves Go's profiler on loopback (a goroutine dump of
// the running daemon shows its apply loop), and refuses any other address.
func TestPprof(t *testing.T) {
	bin := buildBinary(t)
	d := startDaemon(t, bin, t.TempDir(), "--pprof", "127.0.0.1:0")
	var addr string
	testutil.Eventually(t, "the profiler address in the log", func() bool {
		if m := pprofListening.FindStringSubmatch(d.logText()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "node.(*Node).applyLoop") {
		t.Errorf("goroutine dump: %d, %.300s; want the daemon's goroutines", resp.StatusCode, body)
	}
	for _, bad := range []string{"0.0.0.0:6060", ":6060", "10.1.2.3:6060"} {
		code, errOut := runFailingDaemon(t, bin, t.TempDir(), "--pprof", bad)
		if code != 2 || !strings.Contains(errOut, "the profiler serves only on a loopback address") {
			t.Errorf("--pprof %s: exit %d, %q; want 2 and a refusal", bad, code, errOut)
		}
	}
}
