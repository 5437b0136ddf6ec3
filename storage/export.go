package storage

import (
	"fmt"
	"io"
	"os"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
)

// ScanItem is one stored state, as Scan passes it.
type ScanItem struct {
	Namespace string
	Type      crdt.Type
	Key       []byte     // valid only during the callback
	Encoded   []byte     // the stored crdt encoding; valid only during the callback
	State     crdt.State // decoded from Encoded; owned by the callback
}

var scanTypes = []crdt.Type{crdt.TypeRegister, crdt.TypeCounter, crdt.TypeSet}

// Scan calls fn for every stored state (tombstones and expired values
// included) of the namespaces nss whose key starts with prefix, in
// namespace, type, key order, all from one consistent snapshot however
// long it runs. It stops at, and returns, the first error of fn, and
// returns ErrClosed if Close begins meanwhile. It blocks for the scan;
// safe for concurrent use with writes (which it does not see).
func (db *DB) Scan(nss []string, prefix []byte, fn func(ScanItem) error) error {
	for _, ns := range nss {
		if err := ValidNamespace(ns); err != nil {
			return err
		}
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	return translateWalk(db.bdb.View(func(txn *badger.Txn) error {
		for _, ns := range nss {
			for _, typ := range scanTypes {
				if err := db.scanType(txn, ns, typ, prefix, fn); err != nil {
					return err
				}
			}
		}
		return nil
	}))
}

func (db *DB) scanType(txn *badger.Txn, ns string, typ crdt.Type, prefix []byte, fn func(ScanItem) error) error {
	base := dataPrefix(ns, typ)
	io := badger.DefaultIteratorOptions
	io.Prefix = append(base[:len(base):len(base)], prefix...)
	it := txn.NewIterator(io)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if db.closing() {
			return ErrClosed
		}
		item := it.Item()
		key := item.Key()[len(base):]
		err := item.Value(func(v []byte) error {
			s, err := decodeState(v, typ)
			if err != nil {
				return fmt.Errorf("storage: scan %q: %w", item.Key(), err)
			}
			return fn(ScanItem{Namespace: ns, Type: typ, Key: key, Encoded: v, State: s})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Backup writes a full backup of the database to w: Badger's backup
// stream (every key's latest version, from one consistent snapshot), of
// the data, the fingerprint index, the change log and the metadata (clock
// mark, synced marks, format). Values are written decrypted, whatever the
// encryption at rest. It blocks until done; safe for concurrent use with
// writes (which it does not see).
func (db *DB) Backup(w io.Writer) error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	if _, err := db.bdb.Backup(w, 0); err != nil {
		return fmt.Errorf("storage: backup: %w", translate(err))
	}
	return nil
}

// Restore loads a backup made by Backup into dir, which must hold no
// database yet (it is created, encrypted if opts has a key); Open it
// afterwards. It blocks until done. On error dir may hold a partial
// database: remove it before trying again.
func Restore(dir string, opts Config, r io.Reader) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if opts.InMemory || dir == "" {
		return fmt.Errorf("%w: restore needs a directory", ErrInvalidArgument)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%w: %s is not empty: restore only into a new data directory", ErrInvalidArgument, dir)
	}
	bdb, err := badger.Open(badgerOptions(dir, opts))
	if err != nil {
		return fmt.Errorf("storage: restore into %q: %w", dir, translate(err))
	}
	if err := bdb.Load(r, 256); err != nil {
		_ = bdb.Close()
		return fmt.Errorf("storage: restore into %q: %w", dir, translate(err))
	}
	if err := bdb.Close(); err != nil {
		return fmt.Errorf("storage: restore into %q: %w", dir, translate(err))
	}
	return SyncDir(dir)
}
