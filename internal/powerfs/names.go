package powerfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// undo is how to put one directory entry back as it was at the last fsync
// of its directory.
type undo struct {
	// existed says whether the name was durable then; if so, stash is a
	// hard link to the inode it named.
	existed bool
	stash   string
}

// names tracks directory entries changed since their directory's last
// fsync, per directory (by path relative to the backing root; "" is the
// root). Not safe for concurrent use (FS.mu guards it).
type names struct {
	root     string // backing directory
	stashDir string // hard links to replaced or removed durable inodes
	next     int    // stash file counter
	dirs     map[string]map[string]undo
}

func newNames(root, stashDir string) *names {
	return &names{root: root, stashDir: stashDir, dirs: make(map[string]map[string]undo)}
}

// note records the durable state of dir/name before an operation changes
// it, once per name between two fsyncs of dir. A durable directory is not
// recorded: removing or replacing one is durable at once (a documented
// simplification; Badger never does it).
func (n *names) note(dir, name string) error {
	if _, ok := n.dirs[dir][name]; ok {
		return nil
	}
	p := filepath.Join(n.root, dir, name)
	u := undo{}
	st, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case st.IsDir():
		return nil
	default:
		n.next++
		u = undo{existed: true, stash: filepath.Join(n.stashDir, strconv.Itoa(n.next))}
		if err := os.Link(p, u.stash); err != nil {
			return err
		}
	}
	if n.dirs[dir] == nil {
		n.dirs[dir] = make(map[string]undo)
	}
	n.dirs[dir][name] = u
	return nil
}

// commit makes dir's entries durable (an fsync of dir); with one name,
// only that entry.
func (n *names) commit(dir string, only ...string) {
	for name, u := range n.dirs[dir] {
		if len(only) > 0 && name != only[0] {
			continue
		}
		if u.existed {
			_ = os.Remove(u.stash)
		}
		delete(n.dirs[dir], name)
	}
	if len(n.dirs[dir]) == 0 {
		delete(n.dirs, dir)
	}
}

// moveDir follows a directory renamed from old to new: the changes
// recorded under it now live under its new path.
func (n *names) moveDir(old, new string) {
	for dir, m := range n.dirs {
		if dir == old || strings.HasPrefix(dir, old+"/") {
			delete(n.dirs, dir)
			n.dirs[new+strings.TrimPrefix(dir, old)] = m
		}
	}
}

// pending counts the entries changed since their directory's last fsync.
func (n *names) pending() int {
	c := 0
	for _, m := range n.dirs {
		c += len(m)
	}
	return c
}

// commitAll makes every entry durable (a clean unmount).
func (n *names) commitAll() {
	for dir := range n.dirs {
		n.commit(dir)
	}
}

// rollback puts every entry changed since its directory's last fsync back
// as it was then (power loss): deepest directories first, so a directory
// that itself vanishes is handled after its content.
func (n *names) rollback() error {
	dirs := make([]string, 0, len(n.dirs))
	for d := range n.dirs {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	var errs []error
	for _, dir := range dirs {
		for name, u := range n.dirs[dir] {
			p := filepath.Join(n.root, dir, name)
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, err)
			}
			if !u.existed {
				continue
			}
			// The parent may itself have vanished (an undurable mkdir):
			// then the entry goes with it.
			if err := os.Rename(u.stash, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			_ = os.Remove(u.stash)
		}
		delete(n.dirs, dir)
	}
	return errors.Join(errs...)
}
