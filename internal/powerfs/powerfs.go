package powerfs

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// ErrUnavailable reports that FUSE cannot be mounted here: no /dev/fuse,
// or no permission to mount (go-fuse mounts directly, which needs root).
var ErrUnavailable = errors.New("powerfs: FUSE unavailable")

// Options configure an FS. The zero value is the strict model.
type Options struct {
	// FsyncCommitsEntry makes an fsync of a file also make durable the
	// directory entry it was opened by (what ext4 and XFS do in practice,
	// since the entry rides in the same journal transaction; POSIX does
	// not promise it). Default false: only an fsync of the directory makes
	// its entries durable.
	FsyncCommitsEntry bool
}

// Loss counts what one PowerLoss dropped.
type Loss struct {
	// Files is how many files had un-fsynced data or size changes, and
	// Bytes how much of it (in whole dirty pages).
	Files int
	Bytes int64
	// Entries is how many directory entries were put back as they were at
	// their directory's last fsync (created ones removed, removed or
	// replaced ones restored).
	Entries int
}

// FS is a mounted power-loss filesystem: a FUSE mount over a backing
// directory that holds only what was made durable. Its methods are safe
// for concurrent use; PowerLoss and Unmount need every file of the mount
// closed (the process using it stopped or killed).
type FS struct {
	backing, mountpoint, stashDir string
	opts                          Options
	root                          *fusefs.LoopbackRoot // set before the first mount

	// server is the current mount; nil once unmounted. Guarded by ctl.
	ctl    sync.Mutex
	server *fuse.Server
	loss   Loss // the last PowerLoss's

	mu struct {
		sync.Mutex
		files map[uint64]*fileData // by backing inode: un-fsynced data
		names *names               // un-fsynced directory entries
	}
}

// New mounts a power-loss filesystem over backing at mountpoint (both
// existing directories). The stash of replaced durable files lives in a
// hidden sibling of backing (same filesystem, for hard links) and is
// removed by Unmount. An error wrapping ErrUnavailable means FUSE cannot
// be used on this machine.
func New(backing, mountpoint string, opts Options) (*FS, error) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	backing, err := filepath.Abs(backing)
	if err != nil {
		return nil, err
	}
	stash, err := os.MkdirTemp(filepath.Dir(backing), "."+filepath.Base(backing)+".powerfs-*")
	if err != nil {
		return nil, err
	}
	f := &FS{backing: backing, mountpoint: mountpoint, stashDir: stash, opts: opts}
	f.mu.files = make(map[uint64]*fileData)
	f.mu.names = newNames(backing, stash)
	if err := f.mountLocked(); err != nil {
		_ = os.RemoveAll(stash)
		return nil, err
	}
	return f, nil
}

// Mount mounts a power-loss filesystem over backing at a new temporary
// directory for a test, and unmounts it (cleanly) when the test ends. It
// skips the test, saying why, if FUSE is unavailable.
func Mount(t testing.TB, backing string, opts Options) *FS {
	t.Helper()
	f, err := New(backing, t.TempDir(), opts)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("power-loss tests need FUSE (root and /dev/fuse): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Errorf("powerfs: unmount: %v", err)
		}
	})
	return f
}

// Dir is where the filesystem is mounted: the directory the program under
// test uses.
func (f *FS) Dir() string { return f.mountpoint }

// Backing is the backing directory: after PowerLoss or Unmount it holds
// exactly what survived.
func (f *FS) Backing() string { return f.backing }

func (f *FS) newNode() *node {
	return &node{LoopbackNode: fusefs.LoopbackNode{RootData: f.root}, fs: f}
}

// mountLocked mounts the backing directory. Callers hold ctl (or own f).
func (f *FS) mountLocked() error {
	var st syscall.Stat_t
	if err := syscall.Stat(f.backing, &st); err != nil {
		return err
	}
	f.root = &fusefs.LoopbackRoot{Path: f.backing, Dev: uint64(st.Dev)}
	root := f.newNode()
	f.root.RootNode = root
	sec := time.Second
	server, err := fusefs.Mount(f.mountpoint, root, &fusefs.Options{
		EntryTimeout: &sec,
		AttrTimeout:  &sec,
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true, // no fusermount needed (root)
			FsName:            "powerfs",
			Name:              "powerfs",
			MaxBackground:     16,
			// go-fuse logs the connection's end at every unmount.
			Logger: log.New(io.Discard, "", 0),
		},
	})
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENODEV) {
			return fmt.Errorf("%w: mount %s: %v", ErrUnavailable, f.mountpoint, err)
		}
		return fmt.Errorf("powerfs: mount %s: %w", f.mountpoint, err)
	}
	f.server = server
	return nil
}

// unmountLocked ends the current mount; the kernel first hands over every
// dirty page it holds (as writes, which stay volatile). Callers hold ctl.
func (f *FS) unmountLocked() error {
	if f.server == nil {
		return nil
	}
	var err error
	for range 50 { // a killed process's files close asynchronously
		if err = f.server.Unmount(); !errors.Is(err, syscall.EBUSY) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("powerfs: unmount %s: %w", f.mountpoint, err)
	}
	f.server.Wait()
	f.server = nil
	return nil
}

// PowerLoss simulates losing power: it unmounts, drops every write,
// truncate and directory change not made durable by an fsync, leaves the
// backing directory as a machine would find it on reboot, and mounts
// again. Every process using the mount must be gone first (kill it).
func (f *FS) PowerLoss() error {
	f.ctl.Lock()
	defer f.ctl.Unlock()
	if f.server == nil {
		return errors.New("powerfs: not mounted")
	}
	if err := f.unmountLocked(); err != nil {
		return err
	}
	f.mu.Lock()
	loss := Loss{Files: len(f.mu.files)}
	for ino, d := range f.mu.files {
		loss.Bytes += int64(len(d.pages)) * pageSize
		d.close()
		delete(f.mu.files, ino)
	}
	loss.Entries = f.mu.names.pending()
	err := f.mu.names.rollback()
	f.mu.Unlock()
	f.loss = loss
	if err != nil {
		return fmt.Errorf("powerfs: rolling back directory entries: %w", err)
	}
	return f.mountLocked()
}

// LastLoss returns what the last PowerLoss dropped.
func (f *FS) LastLoss() Loss {
	f.ctl.Lock()
	defer f.ctl.Unlock()
	return f.loss
}

// Unmount unmounts cleanly, like a shutdown: everything still volatile is
// written to the backing directory, and the stash is removed. Idempotent.
func (f *FS) Unmount() error {
	f.ctl.Lock()
	defer f.ctl.Unlock()
	if err := f.unmountLocked(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for ino, d := range f.mu.files {
		errs = append(errs, d.sync())
		d.close()
		delete(f.mu.files, ino)
	}
	f.mu.names.commitAll()
	errs = append(errs, os.RemoveAll(f.stashDir))
	return errors.Join(errs...)
}

// dataLocked returns the volatile state of inode ino, creating it over a
// duplicate of fd.
func (f *FS) dataLocked(fd int, ino uint64) (*fileData, syscall.Errno) {
	if d := f.mu.files[ino]; d != nil {
		return d, 0
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fusefs.ToErrno(err)
	}
	dup, err := syscall.Dup(fd)
	if err != nil {
		return nil, fusefs.ToErrno(err)
	}
	syscall.CloseOnExec(dup)
	d := newFileData(os.NewFile(uintptr(dup), "powerfs"), st.Size)
	f.mu.files[ino] = d
	return d, 0
}

func (f *FS) truncateLocked(fd int, ino uint64, size int64) syscall.Errno {
	d, errno := f.dataLocked(fd, ino)
	if errno != 0 {
		return errno
	}
	d.truncate(size)
	return 0
}

// syncLocked makes inode ino's data durable, and with
// Options.FsyncCommitsEntry the entry n was reached by.
func (f *FS) syncLocked(n *node, ino uint64) syscall.Errno {
	if d := f.mu.files[ino]; d != nil {
		if err := d.sync(); err != nil {
			return fusefs.ToErrno(err)
		}
		d.close()
		delete(f.mu.files, ino)
	}
	if f.opts.FsyncCommitsEntry && n != nil {
		if parent, name := filepath.Split(n.rel()); name != "" {
			f.mu.names.commit(strings.TrimSuffix(parent, "/"), name)
		}
	}
	return 0
}

// dropLocked forgets any state under ino (a new inode reusing a number).
func (f *FS) dropLocked(ino uint64) {
	if d := f.mu.files[ino]; d != nil {
		d.close()
		delete(f.mu.files, ino)
	}
}
