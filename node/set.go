package node

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/storage"
)

// Sets and counter resets. Both carry no signature (crdt signs registers
// and counter slots only), so in a namespace with a writer list they are
// refused: locally with ErrForbidden, from other peers by admit.

// MaxMemberLen is the longest set member, in bytes.
const MaxMemberLen = crdt.MaxMemberLen

// unsigned returns ErrForbidden if ns has a writer list: what (a set, a
// counter reset) cannot be signed there.
func (n *Node) unsigned(ns, what string) error {
	if _, ok := n.writers[ns]; ok {
		return fmt.Errorf("%w: namespace %q has a writer list, and %s cannot be signed; use a namespace without one", ErrForbidden, ns, what)
	}
	return nil
}

// ResetCounter resets the counter at key (observed-reset): it reads 0 on
// this peer once ResetCounter returns, and on every peer the reset
// reaches, except for increments made concurrently elsewhere that this
// peer had not seen, which still count. Resetting an absent counter does
// nothing. A reset counter is purged after the tombstone grace. In a
// namespace with a writer list it returns ErrForbidden.
func (n *Node) ResetCounter(ctx context.Context, ns string, key []byte) error {
	ns, err := n.check(ns, key)
	if err != nil {
		return err
	}
	if !n.replicates(ns) {
		_, err := n.forwardSet(ctx, wire.ForwardReset, ns, key, nil)
		return err
	}
	if err := n.unsigned(ns, "a counter reset"); err != nil {
		return err
	}
	op := storage.Op{Namespace: ns, Key: append([]byte{}, key...),
		Reset: &storage.CounterReset{Origin: n.self, Time: n.clock.Now()}}
	res, err := n.apply(ctx, op)
	if err != nil {
		return err
	}
	return translate(res[0].Err, ErrStorage)
}

// SetAdd adds members to the set at key (creating it), durable on this
// peer when it returns. An add wins over a concurrent remove of the same
// member. Members are 1 to MaxMemberLen bytes (else ErrInvalidArgument);
// a set whose encoding would exceed Config.MaxValueSize is refused with
// ErrValueTooLarge. In a namespace with a writer list it returns
// ErrForbidden.
func (n *Node) SetAdd(ctx context.Context, ns string, key []byte, members ...[]byte) error {
	return n.setOp(ctx, ns, key, false, members)
}

// SetRemove removes members from the set at key: the adds this peer has
// seen. Removing a non-member is not an error. Errors as SetAdd.
func (n *Node) SetRemove(ctx context.Context, ns string, key []byte, members ...[]byte) error {
	return n.setOp(ctx, ns, key, true, members)
}

func (n *Node) setOp(ctx context.Context, ns string, key []byte, remove bool, members [][]byte) error {
	ns, err := n.check(ns, key)
	if err != nil {
		return err
	}
	if len(members) == 0 {
		return fmt.Errorf("%w: name at least one member", ErrInvalidArgument)
	}
	for _, m := range members {
		if len(m) == 0 || len(m) > MaxMemberLen {
			return fmt.Errorf("%w: set members are 1 to %d bytes, got %d", ErrInvalidArgument, MaxMemberLen, len(m))
		}
	}
	if !n.replicates(ns) {
		op := wire.ForwardSetAdd
		if remove {
			op = wire.ForwardSetDel
		}
		_, err := n.forwardSet(ctx, op, ns, key, members)
		return err
	}
	if err := n.unsigned(ns, "a set"); err != nil {
		return err
	}
	op := &storage.SetOp{Origin: n.self, Remove: remove, MaxSize: n.cfg.MaxValueSize}
	for _, m := range members {
		op.Members = append(op.Members, append([]byte{}, m...))
	}
	res, err := n.apply(ctx, storage.Op{Namespace: ns, Key: append([]byte{}, key...), Set: op})
	if err != nil {
		return err
	}
	return translate(res[0].Err, ErrStorage)
}

// SetMembers returns the members of the set at key in ascending byte
// order (none for an absent set); the caller owns them.
func (n *Node) SetMembers(ctx context.Context, ns string, key []byte) ([][]byte, error) {
	if ns, err := n.check(ns, key); err == nil && !n.replicates(ns) {
		resp, err := n.forwardSet(ctx, wire.ForwardMembers, ns, key, nil)
		return resp.Members, err
	}
	s, err := n.getSet(ns, key)
	if err != nil {
		return nil, err
	}
	return s.Members(), nil
}

// SetContains reports whether member is in the set at key.
func (n *Node) SetContains(ctx context.Context, ns string, key, member []byte) (bool, error) {
	if ns, err := n.check(ns, key); err == nil && !n.replicates(ns) {
		resp, err := n.forwardSet(ctx, wire.ForwardHas, ns, key, [][]byte{member})
		return resp.Contains, err
	}
	s, err := n.getSet(ns, key)
	if err != nil {
		return false, err
	}
	return s.Contains(member), nil
}

func (n *Node) getSet(ns string, key []byte) (crdt.Set, error) {
	ns, err := n.check(ns, key)
	if err != nil {
		return crdt.Set{}, err
	}
	st, err := n.db.Get(ns, crdt.TypeSet, key)
	if errors.Is(err, storage.ErrNotFound) {
		return crdt.Set{}, nil
	}
	if err != nil {
		return crdt.Set{}, translate(err, ErrStorage)
	}
	s, _ := st.(crdt.Set)
	return s, nil
}

// Types returns the types under which key holds a live state, in type
// order: a register not deleted nor expired, a counter not reset, a set with members.
// A name may be all three (each type is its own keyspace); "get" on a
// name that is only a counter or a set uses it to say so. Given types
// (in type order), it looks only for those: a read fewer for each left
// out.
func (n *Node) Types(ctx context.Context, ns string, key []byte, among ...crdt.Type) ([]crdt.Type, error) {
	ns, err := n.check(ns, key)
	if err != nil {
		return nil, err
	}
	if !n.replicates(ns) {
		types, err := n.forwardTypes(ctx, ns, key)
		if len(among) > 0 {
			types = slices.DeleteFunc(types, func(t crdt.Type) bool { return !slices.Contains(among, t) })
		}
		return types, err
	}
	types := among
	if len(types) == 0 {
		types = []crdt.Type{crdt.TypeRegister, crdt.TypeCounter, crdt.TypeSet}
	}
	states, err := n.db.GetTypes(ns, key, types...)
	if err != nil {
		return nil, translate(err, ErrStorage)
	}
	var out []crdt.Type
	for i, st := range states {
		if st != nil && live(st, n.now()) {
			out = append(out, types[i])
		}
	}
	return out, nil
}

// live reports whether a state is visible to a reader at now: not a
// tombstone nor expired, not a reset counter, not an empty set.
func live(st crdt.State, now crdt.Timestamp) bool {
	switch s := st.(type) {
	case crdt.Register:
		return s.Live(now)
	case crdt.Counter:
		return !s.IsReset()
	case crdt.Set:
		return s.Len() > 0
	}
	return false
}
