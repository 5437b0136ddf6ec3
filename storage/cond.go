package storage

import (
	"errors"
	"fmt"

	"github.com/grapevine-kv/grapevine/crdt"
)

// Conditional writes. A Cond on an Op is checked inside Apply against the
// stored register as left by the batch's earlier ops, in the same Badger
// transaction as the write, so on this DB it is exact: no other write can
// come between the check and the write.

// ErrConditionFailed reports an Op whose Cond did not hold; the op changed
// nothing and its Result.State is the stored state it was checked against.
var ErrConditionFailed = errors.New("storage: condition failed")

// Cond is a precondition on a register write (an Op with a crdt.Register
// State). A key is absent when it has no stored register, a tombstone, or
// a value expired at Config.Now.
type Cond struct {
	// Absent requires the key to be absent (put-if-absent; Consul's cas=0).
	Absent bool
	// Version, when Absent is false, requires the key to hold a live value
	// whose version (its register's Time) is exactly this.
	Version crdt.Timestamp
}

// String describes the condition for error messages.
func (c Cond) String() string {
	if c.Absent {
		return "the key to be absent"
	}
	return fmt.Sprintf("version %d", uint64(c.Version))
}

// holds reports whether c holds for stored (nil if none) at stamp now.
func (c Cond) holds(stored crdt.State, now crdt.Timestamp) bool {
	r, ok := stored.(crdt.Register)
	live := ok && r.Live(now)
	if c.Absent {
		return !live
	}
	return live && r.Time == c.Version
}

// checkCond checks op's condition, if any, against the stored state cur.
func (db *DB) checkCond(op *Op, cur crdt.State) error {
	if op.Cond == nil {
		return nil
	}
	if op.Cond.holds(cur, db.now()) {
		return nil
	}
	return fmt.Errorf("%w: wanted %s", ErrConditionFailed, op.Cond)
}

// now is the current stamp on the wall clock (Config.Now), against which
// expiry is read.
func (db *DB) now() crdt.Timestamp {
	return crdt.NewTimestamp(db.opts.Now().UnixMilli(), 0)
}
