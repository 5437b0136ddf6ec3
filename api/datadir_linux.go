package api

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// errLocked: another process holds the lock.
var errLocked = errors.New("api: locked")

// The lock file's two one-byte ranges: the lock itself, an open file
// description lock (it is not dropped when this process closes another
// descriptor of the file, and works between goroutines of one process),
// and a POSIX record lock, whose holder's process ID another process can
// read (an OFD lock does not report it). The two kinds conflict on a
// shared range, hence two ranges.
var (
	ofdRange   = unix.Flock_t{Type: unix.F_WRLCK, Start: 0, Len: 1}
	posixRange = unix.Flock_t{Type: unix.F_WRLCK, Start: 1, Len: 1}
)

// lockFile takes the lock on f, and marks it with this process's ID.
func lockFile(f *os.File) error {
	lk := ofdRange
	err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return errLocked
	}
	if err != nil {
		return err
	}
	pid := posixRange
	_ = unix.FcntlFlock(f.Fd(), unix.F_SETLK, &pid) // only for lockHolder
	return nil
}

// dirLocked reports whether some process holds the lock on the lock file
// at path. It only tests the lock, never takes it, so it cannot make a
// daemon starting at the same moment fail. Unknown (an error) counts as
// locked.
func dirLocked(path string) bool {
	lk, err := testLock(path, unix.F_OFD_GETLK, ofdRange)
	if err != nil {
		return !os.IsNotExist(err)
	}
	return lk.Type != unix.F_UNLCK
}

// lockHolder returns the process ID of the daemon holding dir's lock, or 0.
func lockHolder(dir string) int {
	lk, err := testLock(filepath.Join(dir, LockFile), unix.F_GETLK, posixRange)
	if err != nil || lk.Type == unix.F_UNLCK {
		return 0
	}
	return int(lk.Pid)
}

// testLock asks whether range r of the file at path could be locked.
func testLock(path string, cmd int, r unix.Flock_t) (unix.Flock_t, error) {
	f, err := os.Open(path)
	if err != nil {
		return r, err
	}
	defer f.Close()
	err = unix.FcntlFlock(f.Fd(), cmd, &r)
	return r, err
}
