package api

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// LockFile is the file in the data directory that a running daemon holds
// locked, so a second daemon on the same directory is refused (told the
// first one's process ID) and a client can tell a stale AddrFile. The file
// stays empty: a refused start changes nothing in the directory.
const LockFile = "daemon.lock"

// ErrStaleAddrFile is wrapped by ReadAddrFile's error when the address
// file is there but no daemon holds the data directory.
var ErrStaleAddrFile = errors.New("api: stale address file")

// InUseError is LockDataDir's error when another process holds the lock.
type InUseError struct {
	Dir string // the data directory
	PID int    // the process holding it, 0 if unknown
}

// Error says which process holds which directory.
func (e *InUseError) Error() string {
	pid := "pid unknown"
	if e.PID > 0 {
		pid = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("another grapevine daemon (%s) is using %s; stop it first, or give this one another --data", pid, e.Dir)
}

// LockDataDir takes the daemon lock of dir (LockFile) for this process
// until release is called or the process ends (the kernel drops the lock
// even after kill -9). If another process holds it, the error is an
// *InUseError.
func LockDataDir(dir string) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("api: lock the data directory: %w", err)
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		if errors.Is(err, errLocked) {
			return nil, &InUseError{Dir: dir, PID: lockHolder(dir)}
		}
		return nil, fmt.Errorf("api: lock the data directory %s: %w", dir, err)
	}
	return func() { _ = f.Close() }, nil
}

// writeAddrFile writes the API address to <dir>/api atomically: a reader
// sees the old file or the new one, never a part.
func writeAddrFile(dir, addr string) error {
	tmp, err := os.CreateTemp(dir, ".api-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename; cleans up a failure
	if _, err := tmp.WriteString(addr + "\n"); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, AddrFile))
}
