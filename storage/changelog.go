package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
)

// The change log. Every op of Apply that changes a stored state gets the
// next value of a per-store sequence, its change index, and a log entry
//
//	'l' index(8, BE) → ns 0x00 type(1) key
//
// written in the same transaction as the change, together with the
// sequence's mark (metaSeq: the greatest index committed). An index is
// never handed out twice: a transaction that does not commit (a later
// part of a split batch, a crash between transactions) leaves a gap, never
// a reuse, because the in-memory sequence never goes back and the mark on
// disk only moves with committed entries. TrimChangeLog deletes the oldest
// entries beyond Config.ChangeLogEntries and raises metaLogFloor: every
// change with an index above the floor is still in the log.
const tagLog = 'l'

var (
	metaSeq      = []byte{tagMeta, 's', 'e', 'q'}                // greatest committed change index, 8 bytes BE
	metaLogFloor = []byte{tagMeta, 'l', 'o', 'g', 'f', 'l', 'o'} // change-log floor, 8 bytes BE
)

// ErrCompacted reports a change index outside the retained change log:
// older than its floor (trimmed), or ahead of its last index (an index of
// another store). Read the current states instead, then continue from
// LastIndex.
var ErrCompacted = errors.New("storage: change log compacted")

// DefaultChangeLogEntries is Config.ChangeLogEntries' default.
const DefaultChangeLogEntries = 1_000_000

func logKey(index uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{tagLog}, index)
}

func appendLogValue(b []byte, ns string, typ crdt.Type, key []byte) []byte {
	b = append(b, ns...)
	b = append(b, nsDelim, byte(typ))
	return append(b, key...)
}

// parseLogValue parses a change-log value; the slices alias v.
func parseLogValue(v []byte) (ns []byte, typ crdt.Type, key []byte, ok bool) {
	ns, rest, ok := splitNS(v)
	if !ok || len(rest) < 2 {
		return nil, 0, nil, false
	}
	return ns, crdt.Type(rest[0]), rest[1:], true
}

// logChange gives the change of a planned op (res.Changed) the next change
// index and appends its log entry to p.writes. The caller holds applyMu.
func (db *DB) logChange(p *planner, g *group, ns string, typ crdt.Type, key []byte, res *Result) {
	db.seqNext++
	g.index, res.Index = db.seqNext, db.seqNext
	val := appendLogValue(p.arena.take(len(ns)+2+len(key)), ns, typ, key)
	p.writes = append(p.writes, write{key: logKey(db.seqNext), val: val})
}

// lastIndexOf is the greatest change index of gs (0 if none).
func lastIndexOf(gs []group) uint64 {
	var last uint64
	for i := range gs {
		last = max(last, gs[i].index)
	}
	return last
}

// putSeqMark writes the sequence mark for gs into txn, if gs changed
// anything.
func putSeqMark(txn *badger.Txn, gs []group) error {
	last := lastIndexOf(gs)
	if last == 0 {
		return nil
	}
	return txn.Set(metaSeq, binary.BigEndian.AppendUint64(nil, last))
}

// loadChangeLog reads the sequence mark and the floor at Open. A store
// written before the change log existed holds states no entry describes:
// its floor and mark start at 1, so a reader asking for everything since 0
// learns (ErrCompacted) that it must read the states instead. A new store
// starts both at Config.FirstChangeIndex, for the same reason.
func (db *DB) loadChangeLog() error {
	var seq, floor uint64
	var hasSeq bool
	err := db.bdb.View(func(txn *badger.Txn) error {
		var err error
		if seq, hasSeq, err = getUint64(txn, metaSeq); err != nil {
			return err
		}
		floor, _, err = getUint64(txn, metaLogFloor)
		if err != nil || hasSeq {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagData}})
		defer it.Close()
		it.Rewind()
		if it.Valid() {
			seq, floor = 1, 1
		}
		seq, floor = max(seq, db.opts.FirstChangeIndex), max(floor, db.opts.FirstChangeIndex)
		return nil
	})
	if err == nil && !hasSeq && seq > 0 {
		err = db.bdb.Update(func(txn *badger.Txn) error {
			return errors.Join(txn.Set(metaSeq, binary.BigEndian.AppendUint64(nil, seq)),
				txn.Set(metaLogFloor, binary.BigEndian.AppendUint64(nil, floor)))
		})
	}
	if err != nil {
		return fmt.Errorf("storage: load change log: %w", translate(err))
	}
	db.seqNext = seq
	db.lastIndex.Store(seq)
	db.logFloor.Store(floor)
	return nil
}

// getUint64 reads an 8-byte big-endian meta value; ok is false if absent.
func getUint64(txn *badger.Txn, key []byte) (v uint64, ok bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	err = item.Value(func(b []byte) error {
		if len(b) != 8 {
			return fmt.Errorf("%w: %q holds %d bytes, want 8", ErrCorrupt, key, len(b))
		}
		v = binary.BigEndian.Uint64(b)
		return nil
	})
	return v, err == nil, err
}

// LastIndex returns the greatest committed change index (0 before the
// first change). It never blocks.
func (db *DB) LastIndex() uint64 { return db.lastIndex.Load() }

// Commits returns how many write transactions the store has committed
// since Open (applies, purges, change-log trims): what it holds can only
// have changed if it grew.
func (db *DB) Commits() uint64 { return db.commits.Load() }

// Change is one change-log entry with its key's state now.
type Change struct {
	Index     uint64
	Namespace string
	Type      crdt.Type
	Key       []byte
	// State is the key's stored state when the page was read (it may be
	// newer than the change at Index); nil if the key is gone (a purged
	// tombstone).
	State crdt.State
}

// ChangesOptions selects what Changes returns.
type ChangesOptions struct {
	// Namespace and Prefix keep only changes of keys with Prefix in
	// Namespace; Namespace "" keeps every namespace.
	Namespace string
	Prefix    []byte
	// Limit is how many log entries one page reads at most (matching or
	// not); 0 means 1000.
	Limit int
}

// ChangePage is one page of the change log.
type ChangePage struct {
	// Changes are the matching changes of the page in index order, each
	// key once (at its greatest index in the page).
	Changes []Change
	// Last is the greatest index the page covers: pass it as since for the
	// next page. Without More it is the store's last index at the page's
	// snapshot, so a change with a greater index came after the page.
	Last uint64
	// More reports that the log holds entries after Last.
	More bool
}

// Changes returns the changes with an index greater than since, one page
// from one consistent snapshot, with each key's state at that snapshot. It
// fails with ErrCompacted if since is below the retained floor or above
// the last index. It blocks for the scan; safe for concurrent use; the
// caller owns the result.
func (db *DB) Changes(since uint64, opts ChangesOptions) (ChangePage, error) {
	if opts.Namespace != "" {
		if err := ValidNamespace(opts.Namespace); err != nil {
			return ChangePage{}, err
		}
	}
	if opts.Limit < 0 {
		return ChangePage{}, fmt.Errorf("%w: negative limit %d", ErrInvalidArgument, opts.Limit)
	}
	limit := opts.Limit
	if limit == 0 {
		limit = 1000
	}
	if err := db.enter(); err != nil {
		return ChangePage{}, err
	}
	defer db.leave()
	var page ChangePage
	err := db.bdb.View(func(txn *badger.Txn) error {
		last, _, err := getUint64(txn, metaSeq)
		if err != nil {
			return err
		}
		floor, _, err := getUint64(txn, metaLogFloor)
		if err != nil {
			return err
		}
		if err := inLog(since, floor, last); err != nil {
			return err
		}
		page.Last = since
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: min(limit, 100), Prefix: []byte{tagLog}})
		defer it.Close()
		n := 0
		for it.Seek(logKey(since + 1)); it.Valid(); it.Next() {
			if n == limit {
				page.More = true
				page.Changes = lastOfEach(page.Changes)
				return db.fillStates(txn, page.Changes)
			}
			n++
			item := it.Item()
			k := item.Key()
			if len(k) != 9 {
				return fmt.Errorf("%w: change-log key %q", ErrCorrupt, k)
			}
			page.Last = binary.BigEndian.Uint64(k[1:])
			err := item.Value(func(v []byte) error {
				ns, typ, key, ok := parseLogValue(v)
				if !ok {
					return fmt.Errorf("%w: change-log entry %d: %q", ErrCorrupt, page.Last, v)
				}
				if (opts.Namespace != "" && string(ns) != opts.Namespace) || !bytes.HasPrefix(key, opts.Prefix) {
					return nil
				}
				page.Changes = append(page.Changes, Change{Index: page.Last, Namespace: string(ns), Type: typ, Key: bytes.Clone(key)})
				return nil
			})
			if err != nil {
				return err
			}
		}
		page.Last = max(page.Last, last)
		page.Changes = lastOfEach(page.Changes)
		return db.fillStates(txn, page.Changes)
	})
	switch {
	case errors.Is(err, ErrCompacted):
		return ChangePage{}, err
	case err != nil:
		return ChangePage{}, fmt.Errorf("storage: read the change log: %w", translate(err))
	}
	return page, nil
}

// lastOfEach keeps, of the changes of each key, the last one (in place).
func lastOfEach(cs []Change) []Change {
	id := func(c Change) string { return c.Namespace + "\x00" + string(rune(c.Type)) + string(c.Key) }
	last := make(map[string]int, len(cs))
	for i, c := range cs {
		last[id(c)] = i
	}
	out := cs[:0]
	for i, c := range cs {
		if last[id(c)] == i {
			out = append(out, c)
		}
	}
	return out
}

// inLog checks that the changes after since are all in a log holding
// (floor, last].
func inLog(since, floor, last uint64) error {
	switch {
	case since < floor:
		return fmt.Errorf("%w: changes after index %d were trimmed; the log keeps those after %d", ErrCompacted, since, floor)
	case since > last:
		return fmt.Errorf("%w: index %d is ahead of this store's last change %d (it comes from another peer, or from a store that lost its latest writes)", ErrCompacted, since, last)
	}
	return nil
}

// fillStates reads the current state of each change.
func (db *DB) fillStates(txn *badger.Txn, cs []Change) error {
	for i := range cs {
		if err := validType(cs[i].Type); err != nil {
			return fmt.Errorf("%w: change-log entry %d: %w", ErrCorrupt, cs[i].Index, err)
		}
		s, err := getState(txn, dataKey(cs[i].Namespace, cs[i].Type, cs[i].Key), cs[i].Type)
		switch {
		case err == nil:
			cs[i].State = s
		case !errors.Is(err, ErrNotFound):
			return err
		}
	}
	return nil
}

// TrimChangeLog deletes the oldest change-log entries so that at most
// Config.ChangeLogEntries remain, raises the floor accordingly, and returns
// how many it deleted. The purge loop runs it on the Config.PurgeInterval
// schedule; between runs the log may exceed the bound by the changes of
// one interval. It blocks for the trim, in transactions of up to 1024
// entries serialized with Apply; safe for concurrent use.
func (db *DB) TrimChangeLog() (int, error) {
	if err := db.enter(); err != nil {
		return 0, err
	}
	defer db.leave()
	total := 0
	for {
		if db.closing() {
			return total, ErrClosed
		}
		n, more, err := db.trimChunk()
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// trimChunk deletes up to purgeChunk entries at or below the cut.
func (db *DB) trimChunk() (int, bool, error) {
	db.applyMu.Lock()
	defer db.applyMu.Unlock()
	last, floor := db.lastIndex.Load(), db.logFloor.Load()
	if last <= uint64(db.opts.ChangeLogEntries) {
		return 0, false, nil
	}
	cut := last - uint64(db.opts.ChangeLogEntries)
	if cut <= floor {
		return 0, false, nil
	}
	var keys [][]byte
	more := false
	newFloor := cut
	err := db.bdb.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagLog}})
		for it.Seek(logKey(floor + 1)); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			if len(k) != 9 || binary.BigEndian.Uint64(k[1:]) > cut {
				break
			}
			if len(keys) == purgeChunk {
				more, newFloor = true, binary.BigEndian.Uint64(keys[len(keys)-1][1:])
				break
			}
			keys = append(keys, k)
		}
		it.Close()
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return txn.Set(metaLogFloor, binary.BigEndian.AppendUint64(nil, newFloor))
	})
	if err != nil {
		return 0, false, fmt.Errorf("storage: trim the change log: %w", translate(err))
	}
	db.commits.Add(1)
	db.logFloor.Store(newFloor)
	return len(keys), more, nil
}

func (db *DB) scheduledTrim() {
	n, err := db.TrimChangeLog()
	switch {
	case errors.Is(err, ErrClosed):
	case err != nil:
		db.log.Error("storage: change-log trim failed", "err", err)
	case n > 0:
		db.log.Debug("storage: trimmed the change log", "entries", n, "floor", db.logFloor.Load())
	}
}
