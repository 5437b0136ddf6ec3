package storage

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// writeAndClose makes a store in dir holding a few keys, closed (Badger
// flushes the memtable to a table file the MANIFEST names on Close).
func writeAndClose(t *testing.T, dir string, opts Config) {
	t.Helper()
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := db.Apply([]Op{put("ns", fmt.Sprintf("k%d", i), crdt.Register{Time: crdt.Timestamp(i + 1), Origin: "a", Value: []byte("v")})}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// tables lists the table files in dir; the test fails if there are none.
func tables(t *testing.T, dir string) []string {
	t.Helper()
	sst, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil || len(sst) == 0 {
		t.Fatalf("no table file in %s (%v): Badger did not flush on Close", dir, err)
	}
	return sst
}

// TestOpenDamaged damages real directories the ways a disk or a power loss
// does and checks Open reports ErrDamaged, and that failures of the
// environment around an intact directory are never reported as damage.
func TestOpenDamaged(t *testing.T) {
	damages := []struct {
		name string
		// untouched: Open finds this damage before Badger writes anything.
		untouched bool
		damage    func(t *testing.T, dir string)
	}{
		{"a table the MANIFEST names is missing", true, func(t *testing.T, dir string) {
			for _, f := range tables(t, dir) {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"the MANIFEST is truncated", true, func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, "MANIFEST"), 5); err != nil {
				t.Fatal(err)
			}
		}},
		{"a MANIFEST record is corrupted", true, func(t *testing.T, dir string) {
			flipByte(t, filepath.Join(dir, "MANIFEST"), 20) // past the 8-byte magic and a record's length and checksum
		}},
		{"a table's footer is corrupted", false, func(t *testing.T, dir string) {
			f := tables(t, dir)[0]
			st, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			flipByte(t, f, st.Size()-6) // in the index checksum
		}},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			writeAndClose(t, dir, testOptions(t))
			d.damage(t, dir)
			before := testutil.DirSnapshot(t, dir)
			if got := openDamaged(t, dir); !strings.HasPrefix(got, "damaged: ") {
				t.Fatalf("Open = %s, want ErrDamaged", got)
			}
			if d.untouched {
				testutil.SameSnapshot(t, "Open of a damaged directory", before, testutil.DirSnapshot(t, dir))
			}
		})
	}

	t.Run("the directory is held by another process", func(t *testing.T) {
		dir := t.TempDir()
		db, err := Open(dir, testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = openFails(t, dir, testOptions(t))
		if errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "lock") {
			t.Fatalf("Open of a held directory = %v, want a lock error that is not ErrDamaged", err)
		}
	})
	t.Run("the encryption key is wrong", func(t *testing.T) {
		dir := t.TempDir()
		opts := testOptions(t)
		opts.EncryptionKey = []byte("0123456789abcdef")
		writeAndClose(t, dir, opts)
		opts.EncryptionKey = []byte("fedcba9876543210")
		err := openFails(t, dir, opts)
		if errors.Is(err, ErrDamaged) || !errors.Is(err, ErrEncryptionKeyMismatch) {
			t.Fatalf("Open with the wrong key = %v, want ErrEncryptionKeyMismatch and not ErrDamaged", err)
		}
	})
	t.Run("a table is unreadable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads files whatever their mode; TestIsDamage covers Badger's permission error")
		}
		dir := t.TempDir()
		writeAndClose(t, dir, testOptions(t))
		for _, f := range tables(t, dir) {
			if err := os.Chmod(f, 0); err != nil {
				t.Fatal(err)
			}
		}
		err := openFails(t, dir, testOptions(t))
		if errors.Is(err, ErrDamaged) {
			t.Fatalf("Open with an unreadable table = %v, want an error that is not ErrDamaged", err)
		}
	})
}

// TestIsDamage checks the classification of Badger's errors as they reach
// Open (flattened to strings by Badger's y.Wrap), for the environments a
// test cannot produce here (a full disk, a permission denied as root).
func TestIsDamage(t *testing.T) {
	for _, c := range []struct {
		err    error
		damage bool
	}{
		{errors.New("file does not exist for table 3"), true},
		{errors.New("manifest has checksum mismatch"), true},
		{fmt.Errorf("%w: clock mark of 3 bytes", ErrCorrupt), true},
		{errors.New(`Opening table: "/d/000001.sst" err: open /d/000001.sst: permission denied`), false},
		{errors.New(`while creating table: /d/000002.sst err: write /d/000002.sst: no space left on device`), false},
		{fmt.Errorf("failed to initialize table: %w", syscall.EIO), false},
		{errors.New(`Cannot acquire directory lock on "/d".  Another process is using this Badger database. err: resource temporarily unavailable`), false},
		{ErrEncryptionKeyMismatch, false},
		{errors.New("something Badger never said before"), false},
	} {
		if got := isDamage(c.err); got != c.damage {
			t.Errorf("isDamage(%q) = %v, want %v", c.err, got, c.damage)
		}
		if got := errors.Is(classify(c.err), ErrDamaged); got != c.damage {
			t.Errorf("classify(%q) matches ErrDamaged: %v, want %v", c.err, got, c.damage)
		}
	}
}

// TestFirstChangeIndex checks that a store replacing a lost one answers a
// watcher resuming from the lost store's indexes with ErrCompacted, never
// with a silent gap, and numbers its own changes above them.
func TestFirstChangeIndex(t *testing.T) {
	old, _ := diskOpener(t, testOptions(t))
	for i := range 5 {
		if _, err := old.Apply([]Op{put("ns", fmt.Sprintf("k%d", i), crdt.Register{Time: crdt.Timestamp(i + 1), Origin: "a", Value: []byte("v")})}); err != nil {
			t.Fatal(err)
		}
	}
	resumeFrom := old.LastIndex() - 2 // a watcher saw the first changes only

	opts := testOptions(t)
	opts.FirstChangeIndex = 1_000_000
	fresh, reopen := diskOpener(t, opts)
	// The fresh store receives more changes than the old one had.
	for i := range 10 {
		if _, err := fresh.Apply([]Op{put("ns", fmt.Sprintf("new%d", i), crdt.Register{Time: crdt.Timestamp(i + 1), Origin: "b", Value: []byte("v")})}); err != nil {
			t.Fatal(err)
		}
	}
	fresh = reopen(fresh) // the start survives a restart
	if _, err := fresh.Changes(resumeFrom, ChangesOptions{}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("Changes(%d) on the replacing store = %v, want ErrCompacted", resumeFrom, err)
	}
	page, err := fresh.Changes(opts.FirstChangeIndex, ChangesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Changes) != 10 || page.Changes[0].Index != opts.FirstChangeIndex+1 {
		t.Fatalf("Changes(FirstChangeIndex) = %d changes from %v, want 10 from %d", len(page.Changes), page.Changes, opts.FirstChangeIndex+1)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// openFails opens dir expecting a failure, and returns it.
func openFails(t *testing.T, dir string, opts Config) error {
	t.Helper()
	db, err := Open(dir, opts)
	if err == nil {
		_ = db.Close()
		t.Fatalf("Open(%q) succeeded", dir)
	}
	t.Logf("Open: %v", err)
	return err
}

// openDamagedEnv makes the test binary a child that opens a directory and
// prints the outcome (openChild): a Badger that fails to open a damaged
// directory leaks goroutines, which goleak would report here.
const openDamagedEnv = "GRAPEVINE_STORAGE_OPEN_DIR"

// openChild runs in the child: it opens dir and prints "opened", or
// "damaged: <error>" for ErrDamaged, or "failed: <error>".
func openChild(dir string) int {
	opts := DefaultConfig()
	opts.PurgeInterval, opts.ValueLogGCInterval = 0, 0
	db, err := Open(dir, opts)
	switch {
	case err == nil:
		fmt.Println("opened")
		if err := db.Close(); err != nil {
			fmt.Println("close:", err)
			return 1
		}
	case errors.Is(err, ErrDamaged):
		fmt.Println("damaged:", err)
	default:
		fmt.Println("failed:", err)
	}
	return 0
}

// openDamaged opens dir in a child process and returns what it printed:
// "opened", "damaged: ..." or "failed: ...".
func openDamaged(t *testing.T, dir string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), openDamagedEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("opening %s in a child: %v\n%s", dir, err, out)
	}
	got := lastLine(out)
	t.Logf("Open in a child: %s", got)
	return got
}
