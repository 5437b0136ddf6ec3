package main

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// watchProc is a running `grapevine watch` and the state its output shows.
type watchProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	stderr *lockedBuffer
	state  map[string]string // key → value, or "del"
}

// startWatch runs `grapevine watch --api API` until the test ends.
func startWatch(t *testing.T, bin, api string) *watchProc {
	t.Helper()
	w := &watchProc{t: t, cmd: exec.Command(bin, "watch", "--api", api), lines: make(chan string, 1000),
		stderr: &lockedBuffer{}, state: map[string]string{}}
	w.cmd.Stderr = w.stderr
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
	}()
	t.Cleanup(func() {
		_ = w.cmd.Process.Signal(syscall.SIGINT)
		_ = w.cmd.Wait()
	})
	return w
}

// until reads the watch's lines until the keys of want show the wanted
// values ("del" for deleted), failing the test if they do not.
func (w *watchProc) until(what string, want map[string]string) {
	w.t.Helper()
	deadline := time.After(60 * time.Second)
	var seen []string
	for {
		ok := true
		for k, v := range want {
			ok = ok && w.state[k] == v
		}
		if ok {
			return
		}
		select {
		case l, open := <-w.lines:
			if !open {
				w.t.Fatalf("%s: the watch exited: %s\nstderr: %s", what, seen, w.stderr)
			}
			seen = append(seen, l)
			f := strings.SplitN(l, " ", 3)
			switch {
			case f[0] == "del" && len(f) == 2:
				w.state[f[1]] = "del"
			case f[0] == "put" && len(f) == 3:
				w.state[f[1]] = f[2]
			}
		case <-deadline:
			w.t.Fatalf("%s: state %v, want %v; lines %q\nstderr: %s", what, w.state, want, seen, w.stderr)
		}
	}
}

// freeAddr returns a loopback address with a port free right now, for a
// daemon that must keep its API address across a restart.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestWatchSurvivesRestartAndFailover: a `grapevine watch` on a daemon
// that restarts prints the changes made while it was down, once it is
// back; a watch given two daemons that loses the first fails over to the
// second and ends on every key's final state.
func TestWatchSurvivesRestartAndFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs daemons")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	apiA := freeAddr(t)
	a := startDaemon(t, bin, filepath.Join(root, "a"), "--api", apiA)
	b := startDaemon(t, bin, filepath.Join(root, "b"), "--bootstrap", a.tcpAddr())
	a.waitPeers(1)
	b.waitPeers(1)
	apiB, err := api.ReadAddrFile(b.data)
	if err != nil {
		t.Fatal(err)
	}
	onA := startWatch(t, bin, apiA)
	both := startWatch(t, bin, apiA+","+apiB)
	// The watches stream once a write shows up in them.
	for i := 0; ; i++ {
		a.mustCLI("put", "ready", "r"+string(rune('0'+i%10)))
		select {
		case <-time.After(200 * time.Millisecond):
			if i > 150 {
				t.Fatal("the watches never streamed")
			}
			continue
		case l := <-onA.lines:
			if !strings.HasPrefix(l, "put ready") {
				t.Fatalf("unexpected first line %q", l)
			}
		}
		break
	}
	a.mustCLI("put", "x", "1")
	a.mustCLI("put", "y", "1")
	onA.until("before the restart", map[string]string{"x": "1", "y": "1"})
	both.until("before the restart", map[string]string{"x": "1", "y": "1"})

	// Restart: changes made on b while a is down reach the watch on a.
	// They reach a while its API is elsewhere, so that the watch can only
	// get them from a's change log, not live.
	a.stop()
	b.mustCLI("put", "x", "2")
	b.mustCLI("del", "y")
	a = startDaemon(t, bin, filepath.Join(root, "a"))
	a.waitValue("x", "2")
	testutil.Eventually(t, "the delete of y on a", func() bool {
		_, _, code := a.cli("get", "y")
		return code == 3 // not found
	})
	a.stop()
	a = startDaemon(t, bin, filepath.Join(root, "a"), "--api", apiA)
	onA.until("after the restart", map[string]string{"x": "2", "y": "del"})
	if !strings.Contains(onA.stderr.String(), "resuming") {
		t.Errorf("the watch did not say it resumed: %s", onA.stderr)
	}

	// Failover: a dies for good; the watch given both continues on b.
	a.kill()
	b.mustCLI("put", "z", "1")
	b.mustCLI("put", "x", "3")
	both.until("after the failover", map[string]string{"x": "3", "y": "del", "z": "1"})
	b.mustCLI("put", "after", "failover")
	both.until("live on b", map[string]string{"after": "failover"})
}
