package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
)

// statesOf decodes an export's states as "ns/type/key=encoding" lines,
// sorted as the export writes them.
func statesOf(t *testing.T, export string) string {
	t.Helper()
	er, err := wire.NewExportReader(strings.NewReader(export))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for {
		rec, err := er.Next()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s/%s/%s=%x\n", rec.Namespace, rec.State.Type(), rec.Key, crdt.Encode(rec.State))
	}
}

// TestExportImportBackupRestoreEndToEnd drives the real binary: export a
// peer holding every type (with tombstones), import it into an unrelated
// empty peer (twice), back the first peer up while it runs and restore
// the backup into a new data directory; every copy holds byte-identical
// states, and the restored peer has a new identity.
func TestExportImportBackupRestoreEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	a := startDaemon(t, bin, filepath.Join(dir, "a"))
	for _, args := range [][]string{
		{"put", "greeting", "hello"},
		{"put", "--ttl", "1h", "session", "s1"},
		{"put", "gone", "x"}, {"del", "gone"},
		{"incr", "hits", "5"},
		{"incr", "old", "3"}, {"del", "--counter", "old"},
		{"put", "--ns", "app", "cfg", "v1"},
	} {
		a.mustCLI(args...)
	}
	a.run("set", "add", "tags", "red", "blue")
	a.run("set", "rm", "tags", "blue")
	want := statesOf(t, a.mustCLI("export", "--tombstones"))
	if strings.Count(want, "\n") != 7 {
		t.Fatalf("the export holds:\n%s\nwant 7 states", want)
	}

	file := filepath.Join(dir, "a.export")
	if err := os.WriteFile(file, []byte(a.mustCLI("export", "--tombstones")), 0o600); err != nil {
		t.Fatal(err)
	}
	b := startDaemon(t, bin, filepath.Join(dir, "b"), "--network", "other")
	out := b.mustCLI("import", file)
	if !strings.Contains(out, "imported 7 states into app, default: 7 changed") {
		t.Fatalf("first import: %q", out)
	}
	if out := b.mustCLI("import", file); !strings.Contains(out, "0 changed this peer, 7 it had already") {
		t.Fatalf("second import: %q", out)
	}
	if got := statesOf(t, b.mustCLI("export", "--tombstones")); got != want {
		t.Fatalf("after import:\n%s\nwant\n%s", got, want)
	}
	if got := b.mustCLI("get", "session"); got != "s1" {
		t.Fatalf("imported TTL value: %q", got)
	}

	bk := filepath.Join(dir, "backup")
	if out := a.mustCLI("backup", bk); !strings.Contains(out, "backed up peer") {
		t.Fatalf("backup: %q", out)
	}
	if _, errOut, code := a.cli("backup", bk); code != 1 || !strings.Contains(errOut, "already holds a backup") {
		t.Fatalf("second backup into the same directory: exit %d, %q", code, errOut)
	}
	cData := filepath.Join(dir, "c")
	if out, errOut, code := runBin(t, bin, nil, "restore", "--data", cData, bk); code != 0 || !strings.Contains(out, "new identity") {
		t.Fatalf("restore: exit %d: %q %q", code, out, errOut)
	}
	c := startDaemon(t, bin, cData, "--network", "third")
	if got := statesOf(t, c.mustCLI("export", "--tombstones")); got != want {
		t.Fatalf("after restore:\n%s\nwant\n%s", got, want)
	}
	if a.tcpAddr() == c.tcpAddr() || strings.HasSuffix(a.tcpAddr(), strings.SplitAfter(c.tcpAddr(), "/p2p/")[1]) {
		t.Fatalf("the restored peer kept the identity of the original")
	}

	// A damaged backup is refused before anything is written.
	data, _ := os.ReadFile(filepath.Join(bk, backupFile))
	data[len(data)/2] ^= 1
	if err := os.WriteFile(filepath.Join(bk, backupFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runBin(t, bin, nil, "restore", "--data", filepath.Join(dir, "d"), bk); code != 1 || !strings.Contains(errOut, "damaged") {
		t.Fatalf("restore of a damaged backup: exit %d, %q", code, errOut)
	}
}
