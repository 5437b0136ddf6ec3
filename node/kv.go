package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/storage"
)

// Value is a key's current value and the version that wrote it.
type Value struct {
	Data    []byte
	Version crdt.Timestamp // HLC stamp of the winning write
	Origin  crdt.ReplicaID // peer that made it
	Expires time.Time      // when it expires (see WriteOptions.TTL); zero: never
	// ServedBy is the ID of the peer that answered: a holder the request
	// was forwarded to (see forward.go), or empty when this peer did.
	ServedBy string
}

// valueOf is the Value of a live register.
func valueOf(r crdt.Register) Value {
	v := Value{Data: r.Value, Version: r.Time, Origin: r.Origin}
	if t := r.ExpiresAt(); t != 0 {
		v.Expires = t.Time()
	}
	return v
}

// Entry is one key of a List page: a register's Value, a counter's
// Counter or a set's Members, as Type says.
type Entry struct {
	Key  []byte
	Type crdt.Type
	Value
	Counter int64    // for a counter: its value
	Members [][]byte // for a set: its members, ascending
}

// ListOptions selects a page of keys.
type ListOptions struct {
	Prefix []byte // only keys with this prefix
	After  []byte // only keys sorted after this one (the previous page's Next)
	Limit  int    // at most this many entries; 0 means 1000
}

// Page is one page of a listing. Next is empty on the last page; otherwise
// pass it as After to get the next page.
type Page struct {
	Entries []Entry
	Next    []byte
}

func (n *Node) check(ns string, key []byte) (string, error) {
	if err := n.Err(); err != nil {
		return "", err
	}
	if ns == "" {
		ns = DefaultNamespace
	}
	if err := storage.ValidNamespace(ns); err != nil {
		return "", fmt.Errorf("%w: %q: use 1 to 64 of a-z 0-9 . _ -", ErrInvalidNamespace, ns)
	}
	if len(key) == 0 || len(key) > MaxKeyLen {
		return "", fmt.Errorf("%w: keys are 1 to %d bytes, got %d", ErrInvalidKey, MaxKeyLen, len(key))
	}
	return ns, nil
}

// Put sets key to value in namespace ns ("" for the default) and returns
// the write's version once it is durable on this peer.
func (n *Node) Put(ctx context.Context, ns string, key, value []byte) (crdt.Timestamp, error) {
	return n.PutWith(ctx, ns, key, value, WriteOptions{})
}

// Delete removes key by writing a tombstone, durable on this peer when
// Delete returns. Deleting an absent key is not an error.
func (n *Node) Delete(ctx context.Context, ns string, key []byte) error {
	return n.DeleteWith(ctx, ns, key, WriteOptions{})
}

// Get returns key's value, or ErrNotFound if it is absent, deleted or
// expired.
func (n *Node) Get(ctx context.Context, ns string, key []byte) (Value, error) {
	ns, err := n.check(ns, key)
	if err != nil {
		return Value{}, err
	}
	if !n.replicates(ns) {
		resp, by, err := n.forwardRequest(ctx, wire.ForwardRequest{Op: wire.ForwardGet, Namespace: ns, Key: key})
		if err != nil {
			return Value{}, err
		}
		return valueOfResponse(resp, by), nil
	}
	st, err := n.db.Get(ns, crdt.TypeRegister, key)
	if errors.Is(err, storage.ErrNotFound) {
		return Value{}, ErrNotFound
	}
	if err != nil {
		return Value{}, translate(err, ErrStorage)
	}
	r, ok := st.(crdt.Register)
	if !ok || !r.Live(n.now()) {
		return Value{}, ErrNotFound
	}
	return valueOf(r), nil
}

// List returns a page of live keys of every type (registers neither
// deleted nor expired, counters, sets; see Types for "live") in ascending
// key order, a name held by several types once per type, in type order; a
// page never splits a name's entries.
func (n *Node) List(ctx context.Context, ns string, opts ListOptions) (Page, error) {
	ns, err := n.check(ns, []byte{0})
	if err != nil {
		return Page{}, translate(err, ErrStorage)
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = 1000
	}
	if !n.replicates(ns) {
		return n.forwardList(ctx, ns, opts, limit)
	}
	return n.listTypes(ns, opts, limit)
}

// Incr adds by (which may be negative) to the counter at key and returns
// its new value on this peer once the increment is durable.
func (n *Node) Incr(ctx context.Context, ns string, key []byte, by int64) (int64, error) {
	ns, err := n.check(ns, key)
	if err != nil {
		return 0, err
	}
	if !n.replicates(ns) {
		resp, _, err := n.forwardRequest(ctx, wire.ForwardRequest{Op: wire.ForwardIncr, Namespace: ns, Key: key, By: by})
		return resp.Counter, err
	}
	sign, err := n.signer(ns)
	if err != nil {
		return 0, err
	}
	inc := &storage.Increment{Origin: n.self, By: by}
	if sign {
		inc.Sign = n.slotSigner(ns, key)
	}
	res, err := n.apply(ctx, storage.Op{Namespace: ns, Key: append([]byte{}, key...), Incr: inc})
	if err != nil {
		return 0, err
	}
	if res[0].Err != nil {
		return 0, translate(res[0].Err, ErrStorage)
	}
	c, _ := res[0].State.(crdt.Counter)
	return c.Value(), nil
}

// Counter returns the value of the counter at key; an absent counter is 0.
func (n *Node) Counter(ctx context.Context, ns string, key []byte) (int64, error) {
	ns, err := n.check(ns, key)
	if err != nil {
		return 0, err
	}
	if !n.replicates(ns) {
		resp, _, err := n.forwardRequest(ctx, wire.ForwardRequest{Op: wire.ForwardCounter, Namespace: ns, Key: key})
		return resp.Counter, err
	}
	st, err := n.db.Get(ns, crdt.TypeCounter, key)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, translate(err, ErrStorage)
	}
	c, _ := st.(crdt.Counter)
	return c.Value(), nil
}
