package powerfs

import (
	"io"
	"os"
)

// pageSize is the unit of the pending-write cache, as in LazyFS's page
// cache: a write dirties whole pages.
const pageSize = 4096

// backing is what a file's pending state reads from and flushes into: the
// durable content of one inode in the backing directory.
type backing interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Sync() error
}

// fileData is the not-yet-fsynced state of one file (one backing inode).
// The backing file holds the durable content; fileData holds what was
// written or truncated since the last fsync. It is pure bookkeeping over a
// backing: it never touches the disk except in readAt (reading durable
// bytes) and sync. Not safe for concurrent use (FS.mu guards it).
type fileData struct {
	// f is the durable content (a descriptor of the backing inode, owned).
	f backing
	// size is the file's current (volatile) size.
	size int64
	// low is the lowest size the file was truncated to since the last
	// fsync: durable bytes at or past low read as zeros unless a dirty page
	// covers them.
	low int64
	// pages holds every page written since the last fsync, whole, by index.
	pages map[int64][]byte
}

func newFileData(f backing, durableSize int64) *fileData {
	return &fileData{f: f, size: durableSize, low: durableSize, pages: make(map[int64][]byte)}
}

// page returns page i as the file currently shows it, dirtying it (a copy
// of the durable bytes below low, zeros elsewhere).
func (d *fileData) page(i int64) ([]byte, error) {
	if p, ok := d.pages[i]; ok {
		return p, nil
	}
	p := make([]byte, pageSize)
	if err := d.readClean(p, i); err != nil {
		return nil, err
	}
	d.pages[i] = p
	return p, nil
}

// readClean fills p (one page) with the durable bytes of page i that lie
// below low; the rest stays zero.
func (d *fileData) readClean(p []byte, i int64) error {
	start := i * pageSize
	if start >= d.low {
		return nil
	}
	n := min(int64(pageSize), d.low-start)
	if _, err := d.f.ReadAt(p[:n], start); err != nil && err != io.EOF {
		return err
	}
	return nil
}

// readAt reads the current content at off into p; it returns fewer bytes
// at the end of the file.
func (d *fileData) readAt(p []byte, off int64) (int, error) {
	if off >= d.size {
		return 0, nil
	}
	p = p[:min(int64(len(p)), d.size-off)]
	buf := make([]byte, pageSize)
	for done := 0; done < len(p); {
		pos := off + int64(done)
		i, in := pos/pageSize, pos%pageSize
		src, ok := d.pages[i]
		if !ok {
			clear(buf)
			if err := d.readClean(buf, i); err != nil {
				return done, err
			}
			src = buf
		}
		done += copy(p[done:], src[in:])
	}
	return len(p), nil
}

// writeAt writes p at off, extending the file as needed.
func (d *fileData) writeAt(p []byte, off int64) error {
	for done := 0; done < len(p); {
		pos := off + int64(done)
		pg, err := d.page(pos / pageSize)
		if err != nil {
			return err
		}
		done += copy(pg[pos%pageSize:], p[done:])
	}
	d.size = max(d.size, off+int64(len(p)))
	return nil
}

// truncate sets the file's size; bytes past it read as zeros if the file
// grows again.
func (d *fileData) truncate(size int64) {
	if size < d.size {
		first := (size + pageSize - 1) / pageSize // first page wholly past size
		for i := range d.pages {
			if i >= first {
				delete(d.pages, i)
			}
		}
		if p, ok := d.pages[size/pageSize]; ok {
			clear(p[size%pageSize:])
		}
		d.low = min(d.low, size)
	}
	d.size = size
}

// sync makes the current content durable: it writes it into the backing
// file and fsyncs that, then forgets the pending state.
func (d *fileData) sync() error {
	if err := d.f.Truncate(d.low); err != nil {
		return err
	}
	for i, p := range d.pages {
		start := i * pageSize
		if start >= d.size {
			continue
		}
		if _, err := d.f.WriteAt(p[:min(int64(pageSize), d.size-start)], start); err != nil {
			return err
		}
	}
	if err := d.f.Truncate(d.size); err != nil {
		return err
	}
	if err := d.f.Sync(); err != nil {
		return err
	}
	d.low = d.size
	clear(d.pages)
	return nil
}

// close releases the backing descriptor, if it is an *os.File.
func (d *fileData) close() {
	if f, ok := d.f.(*os.File); ok {
		_ = f.Close()
	}
}
