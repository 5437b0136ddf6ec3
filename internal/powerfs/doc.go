// Package powerfs is a test filesystem that loses power on command, in
// the manner of LazyFS (github.com/dsrhaslab/lazyfs): a FUSE passthrough
// (go-fuse) over a backing directory that keeps everything not yet fsynced
// in memory, so PowerLoss can drop it and leave the backing directory
// holding exactly what a machine would find after losing power.
//
// # Model
//
// Data, per file (per backing inode, so hard links and renames share it):
// the backing file holds the durable content; writes and truncates since
// the last fsync live in a page cache (4 KiB pages, as LazyFS). Reads see
// the cache over the durable content. fsync and fdatasync of any handle
// of the file (msync of a shared mapping arrives as one) write the cache
// into the backing file and fsync it. Size changes by truncate (ftruncate,
// O_TRUNC) are volatile too; bytes cut by a truncate read as zeros if the
// file grows again.
//
// Names, per directory: creating, linking, unlinking and renaming entries
// (and mkdir) are applied to the backing directory at once, but the first
// change of each name since the directory's last fsync records how to
// undo it: "absent", or a hard link (in a stash beside the backing
// directory) to the durable file it named. fsync of the directory makes
// all its entries durable (the undo records are dropped). PowerLoss undoes
// every recorded change, deepest directory first: a file created without
// an fsync of its directory disappears even if its data was fsynced; an
// unlinked or renamed-over durable file comes back with its durable
// content; a rename is undone on both sides independently (each side
// becomes durable with an fsync of its own directory).
//
// This is stricter than LazyFS, which persists metadata operations at
// once, and stricter than ext4/XFS, where an fsync of a new file also
// persists its entry: Options.FsyncCommitsEntry gives that behaviour.
//
// # Simplifications
//
//   - No torn or reordered writes inside an fsync interval: a power loss
//     keeps either none or all of a file's un-fsynced writes (none). LazyFS
//     can also keep a prefix ("torn" faults); not modelled.
//   - Mode, owner, times and extended attributes are durable at once.
//   - Removing or replacing a durable directory (rmdir, rename over or of
//     it) is durable at once: directories cannot be hard-linked into the
//     stash. Entries inside a renamed directory follow it.
//   - fallocate, copy_file_range and RENAME_EXCHANGE/NOREPLACE are refused.
//   - One backing filesystem (inode numbers are not mixed with devices).
//
// # Power loss and the kernel's cache
//
// The kernel keeps its own page cache of the mount (and dirty pages of
// shared mappings that it writes back later). PowerLoss therefore
// unmounts first: the kernel hands every dirty page over as a write, which
// is volatile and dropped; then it rolls back and mounts again, with an
// empty kernel cache. Every process using the mount must have exited
// before PowerLoss or Unmount (they wait briefly for a killed process's
// files to close).
//
// Mounting needs /dev/fuse and root (go-fuse mounts with mount(2)
// directly, so no fusermount binary is needed); New reports ErrUnavailable
// otherwise and Mount skips the test.
package powerfs
