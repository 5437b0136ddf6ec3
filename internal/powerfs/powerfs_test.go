package powerfs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, path string, data []byte, sync bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

func syncDir(t *testing.T, dir string) {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

// want checks a file's content in the mount and in the backing directory;
// nil data means the file must not exist.
func want(t *testing.T, f *FS, name string, data []byte) {
	t.Helper()
	for _, dir := range []string{f.Dir(), f.Backing()} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case data == nil && !errors.Is(err, fs.ErrNotExist):
			t.Errorf("%s in %s: exists (%q, %v), want gone", name, dir, got, err)
		case data != nil && err != nil:
			t.Errorf("%s in %s: %v", name, dir, err)
		case data != nil && !bytes.Equal(got, data):
			t.Errorf("%s in %s: %q, want %q", name, dir, got, data)
		}
	}
}

func powerLoss(t *testing.T, f *FS) {
	t.Helper()
	if err := f.PowerLoss(); err != nil {
		t.Fatal(err)
	}
}

func TestUnsyncedWriteIsLost(t *testing.T) {
	f := Mount(t, t.TempDir(), Options{})
	p := filepath.Join(f.Dir(), "a")
	write(t, p, []byte("durable"), true)
	syncDir(t, f.Dir())
	write(t, p, []byte("DUR"), false) // overwrite in place, no fsync
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "DURable" {
		t.Fatalf("before power loss: %q %v, want DURable", got, err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.Backing(), "a")); string(b) != "durable" {
		t.Fatalf("backing holds %q before fsync, want the durable content", b)
	}
	powerLoss(t, f)
	want(t, f, "a", []byte("durable"))
}

func TestSyncedWriteSurvives(t *testing.T) {
	f := Mount(t, t.TempDir(), Options{})
	p := filepath.Join(f.Dir(), "a")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000) // spans pages
	write(t, p, big, true)
	syncDir(t, f.Dir())
	powerLoss(t, f)
	want(t, f, "a", big)
	// Again after the remount: a synced append survives, a later one not.
	write(t, p, big, true) // overwrite same bytes
	fh, err := os.OpenFile(p, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Write([]byte("tail")); err != nil {
		t.Fatal(err)
	}
	if err := fh.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	powerLoss(t, f)
	want(t, f, "a", append(big, "tail"...))
}

func TestTruncate(t *testing.T) {
	f := Mount(t, t.TempDir(), Options{})
	p := filepath.Join(f.Dir(), "a")
	write(t, p, []byte("0123456789"), true)
	syncDir(t, f.Dir())
	if err := os.Truncate(p, 4); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 8); err != nil { // grows back with zeros
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "0123\x00\x00\x00\x00" {
		t.Fatalf("after truncates: %q", got)
	}
	powerLoss(t, f)
	want(t, f, "a", []byte("0123456789"))
	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(3); err != nil {
		t.Fatal(err)
	}
	if err := fh.Sync(); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	powerLoss(t, f)
	want(t, f, "a", []byte("012"))
}

func TestCreateNeedsDirSync(t *testing.T) {
	f := Mount(t, t.TempDir(), Options{})
	if err := os.MkdirAll(filepath.Join(f.Dir(), "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	syncDir(t, f.Dir())
	write(t, filepath.Join(f.Dir(), "sub", "gone"), []byte("x"), true) // data synced, entry not
	write(t, filepath.Join(f.Dir(), "sub", "kept"), []byte("y"), true)
	syncDir(t, filepath.Join(f.Dir(), "sub"))
	write(t, filepath.Join(f.Dir(), "sub", "late"), []byte("z"), true)
	if err := os.Mkdir(filepath.Join(f.Dir(), "newdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(f.Dir(), "newdir", "f"), []byte("w"), true)
	syncDir(t, filepath.Join(f.Dir(), "newdir")) // but not its parent
	powerLoss(t, f)
	want(t, f, "sub/kept", []byte("y"))
	want(t, f, "sub/late", nil)
	if _, err := os.Stat(filepath.Join(f.Backing(), "newdir")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("newdir survived without an fsync of its parent: %v", err)
	}
}

func TestFsyncCommitsEntry(t *testing.T) {
	f := Mount(t, t.TempDir(), Options{FsyncCommitsEntry: true})
	write(t, filepath.Join(f.Dir(), "synced"), []byte("x"), true)
	write(t, filepath.Join(f.Dir(), "unsynced"), []byte("y"), false)
	powerLoss(t, f)
	want(t, f, "synced", []byte("x"))
	want(t, f, "unsynced", nil)
}

func TestRenameAndUnlink(t *testing.T) {
	f := Mount(t, t.TempDir(), Options{})
	d := f.Dir()
	write(t, filepath.Join(d, "MANIFEST"), []byte("old"), true)
	write(t, filepath.Join(d, "victim"), []byte("v"), true)
	write(t, filepath.Join(d, "moved"), []byte("m"), true)
	syncDir(t, d)

	// The rewrite-then-rename pattern, without the final directory fsync:
	// the old file must come back.
	write(t, filepath.Join(d, "MANIFEST-REWRITE"), []byte("new"), true)
	if err := os.Rename(filepath.Join(d, "MANIFEST-REWRITE"), filepath.Join(d, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(d, "victim")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(d, "moved"), filepath.Join(d, "moved2")); err != nil {
		t.Fatal(err)
	}
	want(t, f, "MANIFEST", []byte("new"))
	powerLoss(t, f)
	want(t, f, "MANIFEST", []byte("old"))
	want(t, f, "MANIFEST-REWRITE", nil)
	want(t, f, "victim", []byte("v"))
	want(t, f, "moved", []byte("m"))
	want(t, f, "moved2", nil)

	// With the directory fsync, all of it is durable.
	write(t, filepath.Join(d, "MANIFEST-REWRITE"), []byte("new"), true)
	if err := os.Rename(filepath.Join(d, "MANIFEST-REWRITE"), filepath.Join(d, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(d, "victim")); err != nil {
		t.Fatal(err)
	}
	syncDir(t, d)
	powerLoss(t, f)
	want(t, f, "MANIFEST", []byte("new"))
	want(t, f, "victim", nil)
}

// TestUnmountFlushes: a clean unmount (a shutdown) keeps everything.
func TestUnmountFlushes(t *testing.T) {
	backing := t.TempDir()
	f := Mount(t, backing, Options{})
	write(t, filepath.Join(f.Dir(), "a"), []byte("kept"), false)
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(backing, "a")); err != nil || string(got) != "kept" {
		t.Fatalf("after unmount: %q %v", got, err)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(backing), ".*powerfs*")); len(m) != 0 {
		t.Errorf("stash left behind: %v", m)
	}
}
