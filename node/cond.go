package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/storage"
)

// Conditional writes and TTL. A condition is checked by storage inside the
// apply loop, against this peer's stored state, in the same Badger
// transaction as the write: exact on this peer. Across peers it is not
// linearizable: two peers can each accept a write conditioned on the same
// version; last-writer-wins then keeps one (see casTracker for the metric
// that counts it).

// WriteOptions make a Put or Delete conditional, or give a Put a TTL.
// The zero value is an unconditional write that never expires.
type WriteOptions struct {
	// IfVersion, when not 0, requires the key to hold a live value of
	// exactly this version (its Value.Version).
	IfVersion crdt.Timestamp
	// IfAbsent requires the key to be absent: never written, deleted or
	// expired. It excludes IfVersion.
	IfAbsent bool
	// TTL, when positive, makes the value expire that long after the
	// write's version (rounded up to a millisecond); Put only.
	TTL time.Duration
}

// ConditionError is the error of a write whose condition did not hold. It
// matches ErrPreconditionFailed.
type ConditionError struct {
	Key []byte
	// Current is the key's version on this peer, or 0 if it is absent.
	Current crdt.Timestamp
	// Want describes the condition that failed.
	Want string
	// Op names the transaction op that failed ("op 1 (put)"), or is empty.
	Op string
}

// Error says which condition failed and what the key holds instead.
func (e *ConditionError) Error() string {
	now := "the key is absent"
	if e.Current != 0 {
		now = fmt.Sprintf("the key is at version %d", uint64(e.Current))
	}
	op := ""
	if e.Op != "" {
		op = e.Op + ": "
	}
	return fmt.Sprintf("%s: %skey %q: the write required %s, but %s; nothing changed", ErrPreconditionFailed, op, e.Key, e.Want, now)
}

// Is makes errors.Is(err, ErrPreconditionFailed) true.
func (e *ConditionError) Is(target error) bool { return target == ErrPreconditionFailed }

// cond turns o into a storage condition (nil for none).
func (o WriteOptions) cond() (*storage.Cond, error) {
	switch {
	case o.IfAbsent && o.IfVersion != 0:
		return nil, fmt.Errorf("%w: a write cannot require both a version and absence", ErrInvalidArgument)
	case !checksConditions(): // the grapevine_cas_unchecked control
		return nil, nil
	case o.IfAbsent:
		return &storage.Cond{Absent: true}, nil
	case o.IfVersion != 0:
		return &storage.Cond{Version: o.IfVersion}, nil
	}
	return nil, nil
}

// expires returns the expiry of a value written at t with o.TTL.
func (o WriteOptions) expires(t crdt.Timestamp) (int64, error) {
	if o.TTL < 0 {
		return 0, fmt.Errorf("%w: the TTL %s is negative", ErrInvalidArgument, o.TTL)
	}
	if o.TTL == 0 {
		return 0, nil
	}
	ms := (o.TTL + time.Millisecond - 1).Milliseconds()
	if ms > crdt.MaxMillis-t.Millis() || ms > math.MaxInt64/2 {
		return 0, fmt.Errorf("%w: the TTL %s ends past the year 10889", ErrInvalidArgument, o.TTL)
	}
	return t.Millis() + ms, nil
}

// PutWith is Put with a condition or a TTL (see WriteOptions). A refused
// condition returns a *ConditionError (ErrPreconditionFailed) and changes
// nothing.
func (n *Node) PutWith(ctx context.Context, ns string, key, value []byte, o WriteOptions) (crdt.Timestamp, error) {
	ns, err := n.check(ns, key)
	if err != nil {
		return 0, err
	}
	if !n.replicates(ns) {
		resp, _, err := n.forwardRequest(ctx, wire.ForwardRequest{Op: wire.ForwardPut, Namespace: ns, Key: key, Value: value, ForwardCond: wireCond(o)})
		return crdt.Timestamp(resp.Version), err
	}
	if len(value) > n.cfg.MaxValueSize {
		return 0, fmt.Errorf("%w: %d bytes exceeds the limit of %d", ErrValueTooLarge, len(value), n.cfg.MaxValueSize)
	}
	cond, err := o.cond()
	if err != nil {
		return 0, err
	}
	st := crdt.Register{Time: n.clock.Now(), Origin: n.self, Value: append([]byte{}, value...)}
	if st.Expires, err = o.expires(st.Time); err != nil {
		return 0, err
	}
	return st.Time, n.write(ctx, ns, key, st, cond)
}

// DeleteWith is Delete with a condition (WriteOptions.TTL must be 0).
func (n *Node) DeleteWith(ctx context.Context, ns string, key []byte, o WriteOptions) error {
	ns, err := n.check(ns, key)
	if err != nil {
		return err
	}
	if !n.replicates(ns) {
		_, _, err := n.forwardRequest(ctx, wire.ForwardRequest{Op: wire.ForwardDelete, Namespace: ns, Key: key, ForwardCond: wireCond(o)})
		return err
	}
	if o.TTL != 0 {
		return fmt.Errorf("%w: a delete has no TTL", ErrInvalidArgument)
	}
	cond, err := o.cond()
	if err != nil {
		return err
	}
	return n.write(ctx, ns, key, crdt.Register{Time: n.clock.Now(), Origin: n.self, Deleted: true}, cond)
}

// write applies a local register write, signed if ns has a writer list
// (ErrForbidden if this peer is not on it), under cond if not nil.
func (n *Node) write(ctx context.Context, ns string, key []byte, st crdt.Register, cond *storage.Cond) error {
	sign, err := n.signer(ns)
	if err != nil {
		return err
	}
	if sign {
		if st, err = n.signRegister(ns, key, st); err != nil {
			return err
		}
	}
	res, err := n.apply(ctx, storage.Op{Namespace: ns, Key: append([]byte{}, key...), State: st, Cond: cond})
	if err != nil {
		return err
	}
	return n.opError(key, cond, res[0])
}

// opError translates one op's refusal; a failed condition becomes a
// *ConditionError carrying the key's current version.
func (n *Node) opError(key []byte, cond *storage.Cond, res storage.Result) error {
	if errors.Is(res.Err, storage.ErrConditionFailed) && cond != nil {
		ce := &ConditionError{Key: append([]byte{}, key...), Want: cond.String()}
		if r, ok := res.State.(crdt.Register); ok && r.Live(n.now()) {
			ce.Current = r.Time
		}
		return ce
	}
	return translate(res.Err, ErrStorage)
}

// now is the stamp at which this peer reads expiry: its wall clock's
// current millisecond (the wall part of the HLC).
func (n *Node) now() crdt.Timestamp { return crdt.NewTimestamp(n.cfg.Wall().UnixMilli(), 0) }
