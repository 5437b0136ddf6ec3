package chaos

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/grapevine-kv/grapevine/internal/powerfs"
)

// disks puts every peer's data directory behind a power-loss filesystem
// (package powerfs): the daemon uses the mount, the backing directory holds
// only what it fsynced, and powerLoss drops the rest. Safe for concurrent
// use on different peers.
type disks struct {
	fs []*powerfs.FS // by peer index
}

// errNoFUSE explains a run that cannot inject power losses.
var errNoFUSE = errors.New("chaos: power loss needs FUSE (root and /dev/fuse); run with --no-power-loss to leave that fault out")

// mountDisks mounts backing[i] at mounts[i] for every peer. A mount left
// behind by an earlier harness that was killed is detached first. On error
// every mount made is unmounted again.
func mountDisks(backing, mounts []string) (*disks, error) {
	d := &disks{}
	for i := range mounts {
		_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH) // a stale mount of a killed run
		if err := os.MkdirAll(mounts[i], 0o700); err != nil {
			_ = d.Close()
			return nil, fmt.Errorf("chaos: %w", err)
		}
		// FsyncCommitsEntry: an fsync of a new file makes its name durable,
		// as on ext4 and XFS. Under strict POSIX (a new name durable only
		// once its directory is fsynced) Badger v4 can lose an L0 table:
		// handleMemTableFlush creates the table file and records it in the
		// MANIFEST without fsyncing the directory, and the reopen fails
		// with "file does not exist for table N" (seen in a 10-minute run).
		f, err := powerfs.New(backing[i], mounts[i], powerfs.Options{FsyncCommitsEntry: true})
		if errors.Is(err, powerfs.ErrUnavailable) {
			_ = d.Close()
			return nil, fmt.Errorf("%w: %w", errNoFUSE, err)
		}
		if err != nil {
			_ = d.Close()
			return nil, fmt.Errorf("chaos: power-loss filesystem for p%d: %w", i+1, err)
		}
		d.fs = append(d.fs, f)
	}
	return d, nil
}

// powerLoss drops everything peer i's daemon did not fsync. The daemon
// must have exited (killed).
func (d *disks) powerLoss(i int) (powerfs.Loss, error) {
	if err := d.fs[i].PowerLoss(); err != nil {
		return powerfs.Loss{}, err
	}
	return d.fs[i].LastLoss(), nil
}

// Close unmounts every mount cleanly (un-fsynced data is written out, as
// at a shutdown). The daemons must have exited. Idempotent.
func (d *disks) Close() error {
	var errs []error
	for _, f := range d.fs {
		errs = append(errs, f.Unmount())
	}
	return errors.Join(errs...)
}
