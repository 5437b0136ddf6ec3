package loadgen

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync is fdatasync(2): the data and the size, not the other metadata.
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
