package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
)

// changeKeys renders a page as "index:key=state" strings.
func changeKeys(p ChangePage) []string {
	var out []string
	for _, c := range p.Changes {
		st := "gone"
		switch s := c.State.(type) {
		case crdt.Register:
			st = string(s.Value)
			if s.Deleted {
				st = "deleted"
			}
		case crdt.Counter:
			st = fmt.Sprint(s.Value())
		}
		out = append(out, fmt.Sprintf("%d:%s=%s", c.Index, c.Key, st))
	}
	return out
}

func TestChangeIndexAcrossRestart(t *testing.T) {
	db, reopen := diskOpener(t, testOptions(t))
	res := mustApply(t, db,
		put("default", "a", reg(10, "o", "1")),
		put("default", "a", reg(5, "o", "older")), // loses: no change, no index
		incr("default", "c", "o", 2),
		put("other", "b", reg(11, "o", "x")),
	)
	var got []uint64
	for _, r := range res {
		got = append(got, r.Index)
	}
	if want := []uint64{1, 0, 2, 3}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("indexes %v, want %v", got, want)
	}
	db = reopen(db)
	if db.LastIndex() != 3 {
		t.Fatalf("LastIndex after restart = %d, want 3", db.LastIndex())
	}
	res = mustApply(t, db, put("default", "a", reg(20, "o", "2")), put("default", "d", tomb(21, "o")))
	if res[0].Index != 4 || res[1].Index != 5 {
		t.Fatalf("indexes after restart %d, %d; want 4, 5", res[0].Index, res[1].Index)
	}
	page, err := db.Changes(0, ChangesOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	// Each key once, at its last change, with its state now.
	if want := "[2:c=2 4:a=2 5:d=deleted]"; fmt.Sprint(changeKeys(page)) != want || page.Last != 5 || page.More {
		t.Fatalf("Changes(0) = %v last %d more %v; want %s last 5", changeKeys(page), page.Last, page.More, want)
	}
	page, err = db.Changes(2, ChangesOptions{Prefix: []byte("b")}) // every namespace
	if err != nil || fmt.Sprint(changeKeys(page)) != "[3:b=x]" || page.Last != 5 {
		t.Fatalf("Changes(2, prefix b) = %v last %d, %v", changeKeys(page), page.Last, err)
	}
	page, err = db.Changes(2, ChangesOptions{Namespace: "default", Prefix: []byte("b")})
	if err != nil || len(page.Changes) != 0 || page.Last != 5 {
		t.Fatalf("Changes(2, default, prefix b) = %v last %d, %v", changeKeys(page), page.Last, err)
	}
	page, err = db.Changes(5, ChangesOptions{})
	if err != nil || len(page.Changes) != 0 || page.Last != 5 {
		t.Fatalf("Changes(last) = %v last %d, %v", changeKeys(page), page.Last, err)
	}
	if _, err := db.Changes(6, ChangesOptions{}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("Changes(ahead) = %v, want ErrCompacted", err)
	}
	checkInvariants(t, db)
}

func TestChangesPages(t *testing.T) {
	db, _ := memOpener(t, testOptions(t))
	for i := range 10 {
		mustApply(t, db, put("default", fmt.Sprintf("k%d", i%4), reg(crdt.Timestamp(i+1), "o", fmt.Sprint(i))))
	}
	var all []string
	since := uint64(0)
	for {
		page, err := db.Changes(since, ChangesOptions{Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, changeKeys(page)...)
		since = page.Last
		if !page.More {
			break
		}
	}
	// Pages of 3 entries, each key once per page, with its state now.
	want := "[1:k0=8 2:k1=9 3:k2=6 4:k3=7 5:k0=8 6:k1=9 7:k2=6 8:k3=7 9:k0=8 10:k1=9]"
	if fmt.Sprint(all) != want || since != 10 {
		t.Fatalf("paged changes %v (last %d), want %s", all, since, want)
	}
}

func TestChangeLogRetention(t *testing.T) {
	opts := testOptions(t)
	opts.ChangeLogEntries = 3
	db, reopen := diskOpener(t, opts)
	for i := range 10 {
		mustApply(t, db, put("default", fmt.Sprintf("k%d", i), reg(crdt.Timestamp(i+1), "o", "v")))
	}
	if n, err := db.TrimChangeLog(); err != nil || n != 7 {
		t.Fatalf("TrimChangeLog = %d, %v; want 7", n, err)
	}
	db = reopen(db)
	for _, since := range []uint64{0, 6, 11} {
		if _, err := db.Changes(since, ChangesOptions{}); !errors.Is(err, ErrCompacted) {
			t.Errorf("Changes(%d) after the trim = %v, want ErrCompacted", since, err)
		}
	}
	page, err := db.Changes(7, ChangesOptions{})
	if err != nil || fmt.Sprint(changeKeys(page)) != "[8:k7=v 9:k8=v 10:k9=v]" {
		t.Fatalf("Changes(7) = %v, %v", changeKeys(page), err)
	}
	if n, err := db.TrimChangeLog(); err != nil || n != 0 {
		t.Fatalf("second trim = %d, %v", n, err)
	}
	checkInvariants(t, db)
}

func TestChangeLogTrimsInChunks(t *testing.T) {
	opts := testOptions(t)
	opts.ChangeLogEntries = 1
	db, _ := memOpener(t, opts)
	var ops []Op
	for i := range 2*purgeChunk + 10 {
		ops = append(ops, put("default", fmt.Sprintf("k%d", i), reg(1, "o", "v")))
	}
	mustApply(t, db, ops...)
	if n, err := db.TrimChangeLog(); err != nil || n != len(ops)-1 {
		t.Fatalf("TrimChangeLog = %d, %v; want %d", n, err, len(ops)-1)
	}
	if page, err := db.Changes(uint64(len(ops)-1), ChangesOptions{}); err != nil || len(page.Changes) != 1 {
		t.Fatalf("Changes after trim: %v, %v", changeKeys(page), err)
	}
}

// TestChangeLogOfOldStore: a store written before the change log existed
// (no sequence mark) answers since=0 with ErrCompacted, so a watcher
// re-reads the states the log does not describe.
func TestChangeLogOfOldStore(t *testing.T) {
	db, reopen := diskOpener(t, testOptions(t))
	mustApply(t, db, put("default", "a", reg(1, "o", "v")))
	err := db.bdb.Update(func(txn *badger.Txn) error {
		return errors.Join(txn.Delete(metaSeq), txn.Delete(logKey(1)))
	})
	if err != nil {
		t.Fatal(err)
	}
	db = reopen(db)
	if _, err := db.Changes(0, ChangesOptions{}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("Changes(0) on an old store = %v, want ErrCompacted", err)
	}
	if r := mustApply(t, db, put("default", "b", reg(2, "o", "v"))); r[0].Index != 2 {
		t.Fatalf("first index on an old store = %d, want 2", r[0].Index)
	}
}

// checkChangeLog verifies the change log against the raw Badger contents:
// the sequence mark is the greatest entry (or the floor), the in-memory
// last index equals it, no entry is at or below the floor, and while
// nothing was trimmed every stored state is named by an entry.
func checkChangeLog(t tester, db *DB) {
	helper(t)
	var mark, floor, greatest uint64
	logged := map[string]bool{}
	stored := map[string]bool{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		var err error
		if mark, _, err = getUint64(txn, metaSeq); err != nil {
			return err
		}
		if floor, _, err = getUint64(txn, metaLogFloor); err != nil {
			return err
		}
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			switch k[0] {
			case tagLog:
				i := binary.BigEndian.Uint64(k[1:])
				greatest = max(greatest, i)
				if i <= floor {
					t.Errorf("change-log entry %d at or below the floor %d", i, floor)
				}
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				ns, typ, key, ok := parseLogValue(v)
				if !ok {
					t.Errorf("change-log entry %d: bad value %q", i, v)
				}
				logged[string(appendDataKey(nil, string(ns), typ, key))] = true
			case tagData:
				stored[string(bytes.Clone(k))] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the change log: %v", err)
	}
	if mark != max(greatest, floor) {
		t.Errorf("sequence mark %d, greatest entry %d, floor %d", mark, greatest, floor)
	}
	if db.LastIndex() != mark {
		t.Errorf("LastIndex %d, sequence mark on disk %d", db.LastIndex(), mark)
	}
	if floor == 0 {
		for k := range stored {
			if !logged[k] {
				t.Errorf("stored state %q has no change-log entry", k)
			}
		}
	}
}

// FuzzParseLogValue: any stored change-log value parses or is refused
// without panicking, and a parsed one encodes back to itself.
func FuzzParseLogValue(f *testing.F) {
	f.Add(appendLogValue(nil, "default", crdt.TypeRegister, []byte("k")))
	f.Add(appendLogValue(nil, "ns", crdt.TypeCounter, []byte{0, 1, 2}))
	f.Add([]byte{0})
	f.Add([]byte("ns\x00"))
	f.Fuzz(func(t *testing.T, v []byte) {
		ns, typ, key, ok := parseLogValue(v)
		if !ok {
			return
		}
		if got := appendLogValue(nil, string(ns), typ, key); !bytes.Equal(got, v) {
			t.Fatalf("parse(%q) re-encodes as %q", v, got)
		}
	})
}
