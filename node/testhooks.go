package node

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/storage"
)

// Test hooks: everything in package node that exists only for tests and
// benchmarks lives in this file, and every name ends in ForTest. Production
// code never calls them; node/nodetest and node's own tests do. (The
// daemon's hidden --test-hooks HTTP surface is another thing: api/testhooks.go.)

// DigestForTest condenses the node's whole stored state into a string: per
// namespace, the count and fingerprint sum of every stored state. Two
// replicas with equal digests hold the same states. For tests only.
func (n *Node) DigestForTest() string {
	var b bytes.Buffer
	for _, ns := range n.db.Namespaces() {
		s := n.db.Summarize(ns, 0, math.MaxUint64)
		fmt.Fprintf(&b, "%s:%d:%x;", ns, s.Count, s.Hash)
	}
	return b.String()
}

// NamespacesForTest returns the namespaces the node's storage holds. For
// tests only.
func (n *Node) NamespacesForTest() []string { return n.db.Namespaces() }

// FillForTest writes keys[i] = values[i] as registers in namespace ns
// straight into storage, in one storage transaction, stamped by the node's
// clock: it bypasses the apply loop, so nothing is gossiped and no watcher
// is told. keys and values must have the same length; a slice may repeat
// one value. For tests and benchmarks only (prefilling a large store).
func (n *Node) FillForTest(ns string, keys, values [][]byte) error {
	if len(keys) != len(values) {
		return fmt.Errorf("node: FillForTest: %d keys, %d values", len(keys), len(values))
	}
	ops := make([]storage.Op, len(keys))
	for i, k := range keys {
		ops[i] = storage.Op{Namespace: ns, Key: k,
			State: crdt.Register{Time: n.clock.Now(), Origin: n.self, Value: values[i]}}
	}
	res, err := n.db.Apply(ops)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// StatesForTest calls fn with every key of namespace ns and the encoding of
// its stored state (the bytes a replica stores for it), in key-hash order.
// The slices are valid only during the call. For tests and benchmarks only.
func (n *Node) StatesForTest(ns string, fn func(key, state []byte) error) error {
	return n.db.States(ns, 0, math.MaxUint64, func(it storage.Item, s crdt.State) error {
		return fn(it.Key, crdt.Encode(s))
	})
}

// InjectForTest writes states of namespace ns straight into storage, as
// they are: it bypasses admission (no signature is checked), the clock and
// the apply loop, so nothing is gossiped. It plays a rogue peer that holds
// forged states and offers them to anti-entropy. For tests only.
func (n *Node) InjectForTest(ns string, deltas []wire.Delta) error {
	ops := make([]storage.Op, len(deltas))
	for i, d := range deltas {
		ops[i] = storage.Op{Namespace: ns, Key: d.Key, State: d.State}
	}
	res, err := n.db.Apply(ops)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// PublishForTest publishes deltas of namespace ns as one gossip batch, as
// they are (no signing, no admission): a rogue peer's gossip. It joins ns
// first. For tests only.
func (n *Node) PublishForTest(ctx context.Context, ns string, deltas []wire.Delta) error {
	if err := n.join(ns); err != nil {
		return err
	}
	_, err := n.push.Publish(ctx, ns, deltas)
	return err
}

// SetBeforeSyncApplyForTest makes f run before each chunk of states an
// anti-entropy round received is applied; an error from f aborts the round.
// nil removes it. For tests only (interrupting a bootstrap).
func (n *Node) SetBeforeSyncApplyForTest(f func() error) {
	if f == nil {
		n.beforeSyncApply.Store(nil)
		return
	}
	n.beforeSyncApply.Store(&f)
}

// HoldPublishForTest stops the publisher from taking committed batches
// off its queue until release is called, as a network slower than the
// writes would. For tests only.
func (n *Node) HoldPublishForTest() (release func()) {
	gate := make(chan struct{})
	n.publishGate.Store(&gate)
	return func() {
		n.publishGate.Store(nil)
		close(gate)
	}
}

// FlushPublishForTest waits until the publisher has sent everything
// committed before the call (or ctx ends). For tests only.
func (n *Node) FlushPublishForTest(ctx context.Context) error {
	f := make(chan struct{})
	select {
	case n.pubq <- publication{flushed: f}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-f:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DropGossipForTest, when on, makes the node ignore every gossip message it
// receives, so that only anti-entropy replicates to it. For tests only.
func (n *Node) DropGossipForTest(on bool) { n.push.SetDropAllForTest(on) }

// PutAtForTest writes key = value as a register of namespace ns stamped at
// wall time at (logical counter 0), straight into storage like
// InjectForTest: a write made long ago. For tests only.
func (n *Node) PutAtForTest(ns string, key, value []byte, at time.Time) error {
	return n.InjectForTest(ns, []wire.Delta{{Key: key,
		State: crdt.Register{Time: crdt.NewTimestamp(at.UnixMilli(), 0), Origin: n.self, Value: value}}})
}

// PurgeForTest purges the tombstones older than the grace now, as the
// scheduled purge does, and returns how many. For tests only.
func (n *Node) PurgeForTest() (int, error) { return n.db.PurgeTombstones() }

// SyncedForTest returns namespace ns's synced mark (zero if none) and
// whether it is pulling first (see package gossip). For tests only.
func (n *Node) SyncedForTest(ns string) (time.Time, bool) {
	p := n.syncer.Progress()[ns]
	return p.Synced, p.PullFirst
}

// SkipHolderLookupForTest, when on, makes the holders loop advertise the
// namespaces the node holds without looking up their other holders, so it
// connects to none of them and protects no connection for them: the
// negative control of a test that holders keep a connection only through
// the provider records. For tests only; turn it on before the node meets
// its peers.
func (n *Node) SkipHolderLookupForTest(on bool) { n.holderHooks.skipLookup.Store(on) }

// AdvertisedForTest returns how many times the holders loop has advertised
// namespace ns with a provider record that went out (each such
// advertisement ends with the lookup of, and connection to, the other
// holders). Once every namespace in Status().Holds has been advertised, no
// retry is pending: the loop advertises again only at its next periodic
// round or when the node joins a namespace. For tests only.
func (n *Node) AdvertisedForTest(ns string) int {
	n.holderHooks.mu.Lock()
	defer n.holderHooks.mu.Unlock()
	return n.holderHooks.count[ns]
}
