package storage

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// ErrAborted is the Result.Err of every op of an ApplyTxn that was not
// applied because another op of the same transaction was refused; it wraps
// that op's index and refusal.
var ErrAborted = errors.New("storage: transaction aborted")

// ApplyTxn applies ops all or nothing, in one Badger transaction. Each op
// is merged (and its Cond checked) as in Apply, against the stored state as
// left by the earlier ops of ops. If any op is refused, nothing is written:
// that op's Result carries its refusal (and, for ErrConditionFailed, the
// state it was checked against) and every other op's an error wrapping
// ErrAborted. A transaction Badger cannot hold in one commit is refused
// whole with ErrTooLarge, never split.
//
// The error is non-nil only when nothing could be committed for a reason
// other than a refused op (then every Result carries it too); ErrClosed
// after Close. It blocks until the commit is durable; safe for concurrent
// use (serialized with Apply and the purge).
func (db *DB) ApplyTxn(ops []Op) ([]Result, error) {
	if err := db.enter(); err != nil {
		return nil, err
	}
	defer db.leave()
	db.applyMu.Lock()
	defer db.applyMu.Unlock()

	results := make([]Result, len(ops))
	txn := db.bdb.NewTransaction(true)
	defer txn.Discard()
	failAll := func(err error) ([]Result, error) {
		for i := range results {
			if results[i].Err == nil || results[i].Changed {
				results[i] = Result{Err: err}
			}
		}
		return results, err
	}
	groups, err := db.plan(txn, ops, results)
	if err != nil {
		return failAll(err)
	}
	for i := range results {
		if cause := results[i].Err; cause != nil {
			for j := range results {
				if j != i {
					results[j] = Result{Err: fmt.Errorf("%w: op %d was refused: %w", ErrAborted, i, cause)}
				}
			}
			results[i].Changed, results[i].Delta = false, nil
			return results, nil
		}
	}
	_, saved, err := db.fill(txn, groups)
	if errors.Is(err, badger.ErrTxnTooBig) {
		return failAll(fmt.Errorf("%w: the transaction of %d ops exceeds what one commit can hold", ErrTooLarge, len(ops)))
	}
	if err != nil {
		return failAll(fmt.Errorf("storage: write: %w", translate(err)))
	}
	if err := db.finish(txn, groups, saved); err != nil {
		return failAll(err)
	}
	return results, nil
}
