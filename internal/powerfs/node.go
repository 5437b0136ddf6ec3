package powerfs

import (
	"context"
	"os"
	"path/filepath"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is one file or directory of the mount: go-fuse's loopback node over
// the backing directory, with every operation that changes data or names
// routed through the FS's volatile state.
type node struct {
	fusefs.LoopbackNode
	fs *FS
}

var (
	_ fusefs.NodeLookuper       = (*node)(nil)
	_ fusefs.NodeCreater        = (*node)(nil)
	_ fusefs.NodeOpener         = (*node)(nil)
	_ fusefs.NodeOpendirHandler = (*node)(nil)
	_ fusefs.NodeGetattrer      = (*node)(nil)
	_ fusefs.NodeSetattrer      = (*node)(nil)
	_ fusefs.NodeMkdirer        = (*node)(nil)
	_ fusefs.NodeMknoder        = (*node)(nil)
	_ fusefs.NodeSymlinker      = (*node)(nil)
	_ fusefs.NodeLinker         = (*node)(nil)
	_ fusefs.NodeUnlinker       = (*node)(nil)
	_ fusefs.NodeRmdirer        = (*node)(nil)
	_ fusefs.NodeRenamer        = (*node)(nil)
	_ fusefs.NodeFsyncer        = (*node)(nil)
	_ fusefs.NodeCopyFileRanger = (*node)(nil)
)

// rel is the node's path relative to the backing root ("" for the root).
func (n *node) rel() string { return n.Path(n.Root()) }

func (n *node) backingPath() string { return filepath.Join(n.fs.backing, n.rel()) }

// fixAttr overrides the size the backing file reports with the volatile
// one. Callers hold fs.mu.
func (n *node) fixAttrLocked(a *fuse.Attr) {
	if d := n.fs.mu.files[a.Ino]; d != nil && a.Mode&syscall.S_IFMT == syscall.S_IFREG {
		a.Size = uint64(d.size)
		a.Blocks = (a.Size + 511) / 512
	}
}

// stat lstats the backing path and fills out (size fixed).
func (n *node) statLocked(p string, out *fuse.Attr) (*syscall.Stat_t, syscall.Errno) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return nil, fusefs.ToErrno(err)
	}
	out.FromStat(&st)
	n.fixAttrLocked(out)
	return &st, 0
}

func (n *node) child(ctx context.Context, st *syscall.Stat_t) *fusefs.Inode {
	return n.NewInode(ctx, n.fs.newNode(), fusefs.StableAttr{Mode: st.Mode, Ino: st.Ino})
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	st, errno := n.statLocked(filepath.Join(n.backingPath(), name), &out.Attr)
	if errno != 0 {
		return nil, errno
	}
	return n.child(ctx, st), 0
}

// noteLocked records dir/name's durable state before a change.
func (n *node) noteLocked(name string) syscall.Errno {
	return fusefs.ToErrno(n.fs.mu.names.note(n.rel(), name))
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if errno := n.noteLocked(name); errno != 0 {
		return nil, nil, 0, errno
	}
	p := filepath.Join(n.backingPath(), name)
	_, statErr := os.Lstat(p)
	fd, err := syscall.Open(p, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC|int(flags&syscall.O_EXCL), mode)
	if err != nil {
		return nil, nil, 0, fusefs.ToErrno(err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		_ = syscall.Close(fd)
		return nil, nil, 0, fusefs.ToErrno(err)
	}
	if statErr != nil {
		// A new inode: any state under its number is a dead file's.
		n.fs.dropLocked(st.Ino)
	} else if flags&syscall.O_TRUNC != 0 {
		if errno := n.fs.truncateLocked(fd, st.Ino, 0); errno != 0 {
			_ = syscall.Close(fd)
			return nil, nil, 0, errno
		}
	}
	out.FromStat(&st)
	n.fixAttrLocked(&out.Attr)
	ch := n.child(ctx, &st)
	cn, _ := ch.Operations().(*node)
	return ch, &handle{fs: n.fs, node: cn, fd: fd, ino: st.Ino}, 0, 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	fd, err := syscall.Open(n.backingPath(), syscall.O_RDWR|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, fusefs.ToErrno(err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		_ = syscall.Close(fd)
		return nil, 0, fusefs.ToErrno(err)
	}
	if flags&syscall.O_TRUNC != 0 {
		if errno := n.fs.truncateLocked(fd, st.Ino, 0); errno != 0 {
			_ = syscall.Close(fd)
			return nil, 0, errno
		}
	}
	return &handle{fs: n.fs, node: n, fd: fd, ino: st.Ino}, 0, 0
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	ds, errno := fusefs.NewLoopbackDirStream(n.backingPath())
	if errno != 0 {
		return nil, 0, errno
	}
	return &dirHandle{DirStream: ds, node: n}, 0, 0
}

func (n *node) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	p := n.backingPath()
	var st syscall.Stat_t
	var err error
	if n.IsRoot() {
		err = syscall.Stat(p, &st)
	} else {
		err = syscall.Lstat(p, &st)
	}
	if err != nil {
		if h, ok := f.(*handle); ok {
			err = syscall.Fstat(h.fd, &st) // unlinked but open
		}
		if err != nil {
			return fusefs.ToErrno(err)
		}
	}
	out.FromStat(&st)
	n.fixAttrLocked(&out.Attr)
	return 0
}

func (n *node) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		n.fs.mu.Lock()
		fd, opened := -1, false
		if h, ok := f.(*handle); ok {
			fd = h.fd
		} else {
			var err error
			if fd, err = syscall.Open(n.backingPath(), syscall.O_RDWR|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0); err != nil {
				n.fs.mu.Unlock()
				return fusefs.ToErrno(err)
			}
			opened = true
		}
		var st syscall.Stat_t
		errno := fusefs.ToErrno(syscall.Fstat(fd, &st))
		if errno == 0 {
			errno = n.fs.truncateLocked(fd, st.Ino, int64(size))
		}
		if opened {
			_ = syscall.Close(fd)
		}
		n.fs.mu.Unlock()
		if errno != 0 {
			return errno
		}
		in.Valid &^= fuse.FATTR_SIZE
	}
	// Mode, owner and times: applied to the backing file at once (they
	// are metadata this model treats as durable immediately).
	if errno := n.LoopbackNode.Setattr(ctx, nil, in, out); errno != 0 {
		return errno
	}
	return n.Getattr(ctx, f, out)
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if errno := n.noteLocked(name); errno != 0 {
		return nil, errno
	}
	p := filepath.Join(n.backingPath(), name)
	if err := syscall.Mkdir(p, mode); err != nil {
		return nil, fusefs.ToErrno(err)
	}
	st, errno := n.statLocked(p, &out.Attr)
	if errno != 0 {
		return nil, errno
	}
	return n.child(ctx, st), 0
}

func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if errno := n.noteLocked(name); errno != 0 {
		return nil, errno
	}
	p := filepath.Join(n.backingPath(), name)
	if err := syscall.Mknod(p, mode, int(rdev)); err != nil {
		return nil, fusefs.ToErrno(err)
	}
	st, errno := n.statLocked(p, &out.Attr)
	if errno != 0 {
		return nil, errno
	}
	n.fs.dropLocked(st.Ino)
	return n.child(ctx, st), 0
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if errno := n.noteLocked(name); errno != 0 {
		return nil, errno
	}
	p := filepath.Join(n.backingPath(), name)
	if err := syscall.Symlink(target, p); err != nil {
		return nil, fusefs.ToErrno(err)
	}
	st, errno := n.statLocked(p, &out.Attr)
	if errno != 0 {
		return nil, errno
	}
	return n.child(ctx, st), 0
}

func (n *node) Link(ctx context.Context, target fusefs.InodeEmbedder, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	t, ok := target.(*node)
	if !ok {
		return nil, syscall.EXDEV
	}
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if errno := n.noteLocked(name); errno != 0 {
		return nil, errno
	}
	p := filepath.Join(n.backingPath(), name)
	if err := syscall.Link(t.backingPath(), p); err != nil {
		return nil, fusefs.ToErrno(err)
	}
	st, errno := n.statLocked(p, &out.Attr)
	if errno != 0 {
		return nil, errno
	}
	return n.child(ctx, st), 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if errno := n.noteLocked(name); errno != 0 {
		return errno
	}
	return fusefs.ToErrno(syscall.Unlink(filepath.Join(n.backingPath(), name)))
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if errno := n.noteLocked(name); errno != 0 {
		return errno
	}
	return fusefs.ToErrno(syscall.Rmdir(filepath.Join(n.backingPath(), name)))
}

func (n *node) Rename(ctx context.Context, name string, newParent fusefs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	if flags != 0 {
		return syscall.EINVAL // RENAME_EXCHANGE and _NOREPLACE are not modelled
	}
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if errno := n.noteLocked(name); errno != 0 {
		return errno
	}
	if errno := np.noteLocked(newName); errno != 0 {
		return errno
	}
	from, to := filepath.Join(n.backingPath(), name), filepath.Join(np.backingPath(), newName)
	st, err := os.Lstat(from)
	if err != nil {
		return fusefs.ToErrno(err)
	}
	if err := syscall.Rename(from, to); err != nil {
		return fusefs.ToErrno(err)
	}
	if st.IsDir() {
		n.fs.mu.names.moveDir(filepath.Join(n.rel(), name), filepath.Join(np.rel(), newName))
	}
	return 0
}

// Fsync on the node (no handle: go-fuse calls it for a handle-less fsync
// and for directories whose handle does not fsync itself).
func (n *node) Fsync(ctx context.Context, f fusefs.FileHandle, flags uint32) syscall.Errno {
	if h, ok := f.(*handle); ok {
		return h.Fsync(ctx, flags)
	}
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if n.IsDir() {
		n.fs.mu.names.commit(n.rel())
		return 0
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(n.backingPath(), &st); err != nil {
		return fusefs.ToErrno(err)
	}
	return n.fs.syncLocked(n, st.Ino)
}

// CopyFileRange is refused so the kernel falls back to reads and writes,
// which go through the volatile state.
func (n *node) CopyFileRange(ctx context.Context, fhIn fusefs.FileHandle, offIn uint64, out *fusefs.Inode, fhOut fusefs.FileHandle, offOut, length, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// IsDir reports whether the node is a directory.
func (n *node) IsDir() bool { return n.StableAttr().Mode&syscall.S_IFMT == syscall.S_IFDIR }

// dirHandle is an open directory: the loopback listing, and fsync makes
// the directory's entries durable.
type dirHandle struct {
	fusefs.DirStream
	node *node
}

var (
	_ fusefs.FileFsyncdirer   = (*dirHandle)(nil)
	_ fusefs.FileReaddirenter = (*dirHandle)(nil)
	_ fusefs.FileReleasedirer = (*dirHandle)(nil)
)

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if !d.HasNext() {
		return nil, 0
	}
	e, errno := d.Next()
	return &e, errno
}

func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) { d.Close() }

func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	d.node.fs.mu.Lock()
	defer d.node.fs.mu.Unlock()
	d.node.fs.mu.names.commit(d.node.rel())
	return 0
}

// handle is an open regular file. Its descriptor on the backing inode is
// opened read-write whatever the caller asked (the kernel checks access);
// reads and writes go through the inode's volatile state.
type handle struct {
	fs   *FS
	node *node // the file's node (its name, for Options.FsyncCommitsEntry)
	fd   int
	ino  uint64
}

var (
	_ fusefs.FileReader    = (*handle)(nil)
	_ fusefs.FileWriter    = (*handle)(nil)
	_ fusefs.FileFsyncer   = (*handle)(nil)
	_ fusefs.FileFlusher   = (*handle)(nil)
	_ fusefs.FileReleaser  = (*handle)(nil)
	_ fusefs.FileGetattrer = (*handle)(nil)
	_ fusefs.FileAllocater = (*handle)(nil)
)

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	var n int
	var err error
	if d := h.fs.mu.files[h.ino]; d != nil {
		n, err = d.readAt(dest, off)
	} else {
		n, err = syscall.Pread(h.fd, dest, off)
	}
	if err != nil {
		return nil, fusefs.ToErrno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	d, errno := h.fs.dataLocked(h.fd, h.ino)
	if errno != 0 {
		return 0, errno
	}
	if err := d.writeAt(data, off); err != nil {
		return 0, fusefs.ToErrno(err)
	}
	return uint32(len(data)), 0
}

// Fsync makes the file's data durable (fsync and fdatasync alike: this
// model keeps no separate metadata for files).
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	return h.fs.syncLocked(h.node, h.ino)
}

func (h *handle) Flush(ctx context.Context) syscall.Errno { return 0 }

func (h *handle) Release(ctx context.Context) syscall.Errno {
	return fusefs.ToErrno(syscall.Close(h.fd))
}

func (h *handle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	var st syscall.Stat_t
	if err := syscall.Fstat(h.fd, &st); err != nil {
		return fusefs.ToErrno(err)
	}
	out.FromStat(&st)
	if d := h.fs.mu.files[h.ino]; d != nil {
		out.Size = uint64(d.size)
		out.Blocks = (out.Size + 511) / 512
	}
	return 0
}

// Allocate is not modelled.
func (h *handle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	return syscall.EOPNOTSUPP
}
