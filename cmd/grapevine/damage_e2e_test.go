package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
)

// TestDamagedDatabaseEndToEnd: a peer whose database lost a table file (as
// a power loss on a strict POSIX filesystem does) refuses to start and
// changes nothing; started with --on-damage quarantine it moves the
// directory aside, resyncs every key from its peer, says so in status and
// metrics, and a watcher resuming from its old change indexes is told to
// re-read (410) instead of silently missing changes.
func TestDamagedDatabaseEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs daemons")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	a := startDaemon(t, bin, filepath.Join(root, "a"))
	b := startDaemon(t, bin, filepath.Join(root, "b"), "--bootstrap", a.tcpAddr())
	b.waitPeers(1)
	const keys = 30
	for i := range keys {
		a.mustCLI("put", fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", i))
	}
	b.waitValue(fmt.Sprintf("k%02d", keys-1), fmt.Sprint("v", keys-1))
	idB := statusJSON(t, b).ID
	b.stop() // Badger flushes its memtable to a table file on Close

	dbB := node.DatabaseDir(b.data)
	tables, err := filepath.Glob(filepath.Join(dbB, "*.sst"))
	if err != nil || len(tables) == 0 {
		t.Fatalf("no table file in %s after a clean stop (%v)", dbB, err)
	}
	for _, f := range tables {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}

	// By default: refuse, say what and how to recover, change nothing.
	before := testutil.DirSnapshot(t, b.data)
	code, stderr := runFailingDaemon(t, bin, b.data)
	t.Logf("a damaged database, as the user sees it:\n%s", stderr)
	if code != codeError {
		t.Errorf("exit %d, want %d", code, codeError)
	}
	for _, w := range []string{
		"the database in " + dbB + " is damaged", "file does not exist for table",
		"Nothing was changed", "writes that only this peer had acknowledged and not yet replicated are lost",
		"daemon --on-damage quarantine --data " + b.data,
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	testutil.SameSnapshot(t, "a refused start", before, testutil.DirSnapshot(t, b.data))

	// With --on-damage quarantine: moved aside, a new empty database,
	// filled from a.
	b = startDaemon(t, bin, b.data, "--on-damage", "quarantine", "--bootstrap", a.tcpAddr())
	quarantined, err := filepath.Glob(filepath.Join(node.QuarantineRoot(b.data), "*", "MANIFEST"))
	if err != nil || len(quarantined) != 1 {
		t.Fatalf("quarantined databases: %v (%v), want one", quarantined, err)
	}
	oldDir := filepath.Dir(quarantined[0])
	if !strings.Contains(b.logText(), "level=ERROR msg=\"the database was damaged: moved it aside") || !strings.Contains(b.logText(), oldDir) {
		t.Errorf("no Error log line saying where the damaged database went:\n%s", b.logText())
	}
	b.waitPeers(1)
	if out := b.mustCLI("sync", "--wait"); !strings.Contains(out, "in sync with") {
		t.Fatalf("sync --wait: %q", out)
	}
	for i := range keys {
		if got := b.mustCLI("get", fmt.Sprintf("k%02d", i)); got != fmt.Sprint("v", i) {
			t.Fatalf("after recovery, k%02d on b = %q, want v%d", i, got, i)
		}
	}

	st := statusJSON(t, b)
	if st.ID != idB {
		t.Errorf("the peer ID changed from %s to %s: the identity must survive a recovery", idB, st.ID)
	}
	if st.Recovered == nil || st.Recovered.Quarantine != oldDir || !strings.Contains(st.Recovered.Damage, "file does not exist for table") {
		t.Errorf("status -o json recovered = %+v, want the quarantine %s and the damage", st.Recovered, oldDir)
	}
	text := b.mustCLI("status")
	if !strings.Contains(text, "recovered: from a damaged database at ") || !strings.Contains(text, oldDir) {
		t.Errorf("status does not say the peer recovered:\n%s", text)
	}
	if got := b.counter("grapevine_damage_recoveries_total"); got != 1 {
		t.Errorf("grapevine_damage_recoveries_total = %v, want 1", got)
	}

	// A watcher of the old store resuming at one of its indexes (b gave
	// out about one per key) is told to re-read, though the new store
	// has handed out as many indexes since.
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(fmt.Sprintf("http://%s/v1/watch?since=%d&peer=%s", b.apiAddr(), keys/2, idB))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Errorf("watch since=%d (an index of the lost store) = %d, want 410 Gone", keys/2, resp.StatusCode)
	}

	// A restart opens the new database normally; status no longer says
	// recovered, the quarantined directory stays.
	b.stop()
	b = startDaemon(t, bin, b.data, "--bootstrap", a.tcpAddr())
	if st := statusJSON(t, b); st.Recovered != nil {
		t.Errorf("after a clean restart status still says recovered: %+v", st.Recovered)
	}
	if got := b.mustCLI("get", "k00"); got != "v0" {
		t.Errorf("after a restart k00 = %q", got)
	}
	if _, err := os.Stat(quarantined[0]); err != nil {
		t.Errorf("the quarantined directory is gone: %v", err)
	}
}

// statusJSON reads `grapevine status -o json`.
func statusJSON(t *testing.T, d *daemon) apitype.Status {
	t.Helper()
	var st apitype.Status
	if err := json.Unmarshal([]byte(d.mustCLI("status", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}
