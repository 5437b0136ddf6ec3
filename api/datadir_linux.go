package api

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errLocked: another open file description holds the lock.
var errLocked = errors.New("api: locked")

// wholeFile is a write lock over the whole file.
func wholeFile() unix.Flock_t {
	return unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
}

// lockFile takes an open-file-description lock on f (released when f is
// closed or the process ends; unlike a POSIX record lock, closing another
// descriptor of the same file in this process does not drop it).
func lockFile(f *os.File) error {
	lk := wholeFile()
	err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return errLocked
	}
	return err
}

// dirLocked reports whether some process holds dir's daemon lock. It only
// tests the lock, never takes it, so it cannot make a daemon starting at
// the same moment fail. Unknown (an error) counts as locked.
func dirLocked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return !os.IsNotExist(err)
	}
	defer f.Close()
	lk := wholeFile()
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return true
	}
	return lk.Type != unix.F_UNLCK
}
