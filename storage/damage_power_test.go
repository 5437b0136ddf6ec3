package storage

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/powerfs"
)

// flushChildEnv makes the test binary a child (flushChild) that writes to
// a directory until Badger has flushed a memtable to a table file, says
// "flushed", and waits to be killed.
const flushChildEnv = "GRAPEVINE_STORAGE_FLUSH_DIR"

// flushChild runs in the child. The memtable is shrunk to 8 MiB (the
// least Badger allows with its 1 MiB value threshold) so a flush comes
// after a few MiB of writes.
func flushChild(dir string) int {
	testMemTableSize = 8 << 20
	opts := DefaultConfig() // SyncWrites on: every Apply is acknowledged durable
	opts.PurgeInterval, opts.ValueLogGCInterval = 0, 0
	db, err := Open(dir, opts)
	if err != nil {
		fmt.Println("open:", err)
		return 2
	}
	value := strings.Repeat("v", 2<<10)
	for b := 0; !flushed(dir); b++ {
		if b == 1000 {
			fmt.Println("no memtable flush after 1000 batches")
			return 2
		}
		ops := make([]Op, 64)
		for i := range ops {
			ops[i] = put("ns", fmt.Sprintf("b%d/%d", b, i), crdt.Register{Time: crdt.Timestamp(b<<8 | i + 1), Origin: "child", Value: []byte(value)})
		}
		if _, err := db.Apply(ops); err != nil {
			fmt.Println("apply:", err)
			return 2
		}
	}
	fmt.Println("flushed")
	_, _ = bufio.NewReader(os.Stdin).ReadByte() // until killed (the parent never writes)
	return 2
}

// flushed reports whether Badger has finished flushing a memtable: a table
// file exists and the flushed memtable's write-ahead log (.mem) is gone,
// which Badger does after recording the table in its MANIFEST.
func flushed(dir string) bool {
	sst, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	mem, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
	return len(sst) > 0 && len(mem) == 1
}

// TestPowerLossDamage produces the damage the real way: a power loss right
// after Badger flushed a memtable. On a strict POSIX filesystem (a new
// name is durable only once its directory is fsynced) the table's name is
// lost while the fsynced MANIFEST names it, and Open reports ErrDamaged;
// where an fsync of a file also makes its name durable (ext4, XFS) the
// same sequence reopens.
func TestPowerLossDamage(t *testing.T) {
	if !powerLossAvailable(t) {
		t.Skip("needs FUSE")
	}
	for _, c := range []struct {
		name string
		opts powerfs.Options
		want string
	}{
		{"strict POSIX", powerfs.Options{}, "damaged: "},
		{"ext4 and XFS", powerfs.Options{FsyncCommitsEntry: true}, "opened"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := powerfs.New(dir, t.TempDir(), c.opts)
			if err != nil {
				t.Fatal(err)
			}
			runFlushChild(t, f.Dir())
			if err := f.PowerLoss(); err != nil {
				t.Fatal(err)
			}
			if err := f.Unmount(); err != nil {
				t.Fatal(err)
			}
			t.Logf("the power loss dropped %+v", f.LastLoss())
			if got := openDamaged(t, dir); !strings.HasPrefix(got, c.want) {
				t.Fatalf("Open after the power loss: %s, want %q", got, c.want)
			}
		})
	}
}

// runFlushChild runs flushChild on dir and SIGKILLs it once it flushed.
func runFlushChild(t *testing.T, dir string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), flushChildEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if line != "flushed\n" {
		t.Fatalf("the child did not flush a memtable: %q", line)
	}
}
