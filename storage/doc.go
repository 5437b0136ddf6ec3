// Package storage persists grapevine's replicated state in Badger v4.
//
// A DB applies batches of CRDT deltas atomically (merging each with the
// stored state and writing only winners), serves point reads and ordered
// prefix scans per namespace, and keeps the fingerprint index anti-entropy
// needs: an on-disk index ordered by the placement hash of each key, and an
// in-memory tree of range sums (count and fingerprint sum) kept in step with
// it. It persists the hybrid logical clock's high-water mark, purges old
// tombstones and runs Badger's value-log GC on a schedule.
//
// Badger errors are translated into this package's sentinel errors
// (ErrNotFound, ErrClosed, ErrCorrupt, ...); callers match them with
// errors.Is. Open reports a directory whose content is damaged (a table
// the MANIFEST names is missing, a checksum mismatch) with ErrDamaged,
// and never for a failure of the environment (a held lock, a permission,
// a full disk, a wrong encryption key): a caller may then set the
// directory aside and start a new store with Config.FirstChangeIndex.
package storage
