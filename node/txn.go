package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/storage"
)

// Atomic transactions. A transaction is applied all or nothing on the
// receiving peer, in one Badger transaction (storage.ApplyTxn), and
// published as ONE gossip message marked as a transaction; a peer that
// receives that message by push applies it in one storage transaction too,
// so no reader there sees half of it. Anti-entropy (pull repair) compares
// and sends keys one by one, so a peer that missed the message may receive
// the transaction's keys in separate sync chunks: then a reader there can
// see part of it until the round completes.

// Limits of one transaction. They keep it within one Badger transaction
// and, with the per-op overhead (origin, stamp, signature), within one
// gossip message (wire.MaxGossipMessage, about 1 MiB).
const (
	MaxTxnOps   = 1000      // ops in one transaction
	MaxTxnBytes = 512 << 10 // bytes of keys and values in one transaction
)

// TxnKind is what a TxnOp does.
type TxnKind uint8

// The kinds of transaction ops.
const (
	TxnPut    TxnKind = iota + 1 // set Key to Value
	TxnDelete                    // delete Key
	TxnIncr                      // add By to the counter Key
)

// String returns "put", "del", "incr" or "op(N)".
func (k TxnKind) String() string {
	switch k {
	case TxnPut:
		return "put"
	case TxnDelete:
		return "del"
	case TxnIncr:
		return "incr"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// TxnOp is one operation of a transaction. WriteOptions give a put or a
// delete a condition, and a put a TTL; an increment takes none.
type TxnOp struct {
	Kind  TxnKind
	Key   []byte
	Value []byte // TxnPut
	By    int64  // TxnIncr
	WriteOptions
}

// TxnResult is the outcome of one TxnOp of a committed transaction.
type TxnResult struct {
	Version crdt.Timestamp // TxnPut, TxnDelete: the write's version
	Counter int64          // TxnIncr: the counter's value on this peer after the transaction
}

// Txn applies ops to namespace ns ("" for the default) all or nothing:
// every op's condition is checked and every op applied in one storage
// transaction, durable when Txn returns. If an op is refused (its
// condition failed: a *ConditionError for ErrPreconditionFailed, wrapped
// with the op's index) nothing changes. Limits: MaxTxnOps ops and
// MaxTxnBytes of keys and values (ErrTxnTooLarge). The transaction is
// published as one gossip message.
func (n *Node) Txn(ctx context.Context, ns string, ops []TxnOp) ([]TxnResult, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	if ns == "" {
		ns = DefaultNamespace
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("%w: a transaction needs at least one op", ErrInvalidArgument)
	}
	if len(ops) > MaxTxnOps {
		return nil, fmt.Errorf("%w: %d ops; the limit is %d", ErrTxnTooLarge, len(ops), MaxTxnOps)
	}
	size := 0
	for _, op := range ops {
		size += len(op.Key) + len(op.Value)
	}
	if size > MaxTxnBytes {
		return nil, fmt.Errorf("%w: %d bytes of keys and values; the limit is %d", ErrTxnTooLarge, size, MaxTxnBytes)
	}
	sign, err := n.signer(ns)
	if err != nil {
		return nil, err
	}
	sops := make([]storage.Op, len(ops))
	for i, op := range ops {
		if sops[i], err = n.txnOp(ns, op, sign); err != nil {
			return nil, opFailed(i, op, err)
		}
	}
	if err := n.join(ns); err != nil {
		return nil, err
	}
	results, err := n.submit(ctx, &request{ops: txnApplied(sops), local: true, atomic: true, done: make(chan struct{})})
	if err != nil {
		return nil, err
	}
	out := make([]TxnResult, len(ops))
	for i, res := range results {
		if res.Err != nil && !errors.Is(res.Err, storage.ErrAborted) {
			err := n.opError(ops[i].Key, sops[i].Cond, res)
			var ce *ConditionError
			if errors.As(err, &ce) {
				ce.Op = fmt.Sprintf("op %d (%s)", i, ops[i].Kind)
				return nil, ce
			}
			return nil, opFailed(i, ops[i], err)
		}
	}
	for i, res := range results {
		if res.Err != nil { // every op aborted, none refused: cannot happen, but never report success
			return nil, translate(res.Err, ErrStorage)
		}
		switch s := res.State.(type) {
		case crdt.Counter:
			out[i].Counter = s.Value()
		}
	}
	for i, sop := range sops {
		if r, ok := sop.State.(crdt.Register); ok {
			out[i].Version = r.Time
		}
	}
	return out, nil
}

// txnOp validates one op and builds its storage op (signed if sign).
func (n *Node) txnOp(ns string, op TxnOp, sign bool) (storage.Op, error) {
	if _, err := n.check(ns, op.Key); err != nil {
		return storage.Op{}, err
	}
	sop := storage.Op{Namespace: ns, Key: append([]byte{}, op.Key...)}
	var err error
	if op.Kind != TxnIncr {
		if sop.Cond, err = op.cond(); err != nil {
			return sop, err
		}
	}
	switch op.Kind {
	case TxnPut:
		if len(op.Value) > n.cfg.MaxValueSize {
			return sop, fmt.Errorf("%w: %d bytes exceeds the limit of %d", ErrValueTooLarge, len(op.Value), n.cfg.MaxValueSize)
		}
		r := crdt.Register{Time: n.clock.Now(), Origin: n.self, Value: append([]byte{}, op.Value...)}
		if r.Expires, err = op.expires(r.Time); err != nil {
			return sop, err
		}
		sop.State = r
	case TxnDelete:
		if op.TTL != 0 {
			return sop, fmt.Errorf("%w: a delete has no TTL", ErrInvalidArgument)
		}
		sop.State = crdt.Register{Time: n.clock.Now(), Origin: n.self, Deleted: true}
	case TxnIncr:
		if op.IfAbsent || op.IfVersion != 0 || op.TTL != 0 {
			return sop, fmt.Errorf("%w: an increment takes no condition and no TTL", ErrInvalidArgument)
		}
		sop.Incr = &storage.Increment{Origin: n.self, By: op.By}
		if sign {
			sop.Incr.Sign = n.slotSigner(ns, op.Key)
		}
		return sop, nil
	default:
		return sop, fmt.Errorf("%w: unknown op %s (want put, del or incr)", ErrInvalidArgument, op.Kind)
	}
	if sign {
		r, err := n.signRegister(ns, op.Key, sop.State.(crdt.Register))
		if err != nil {
			return sop, err
		}
		sop.State = r
	}
	return sop, nil
}

// commitTxn runs one atomic request alone: one storage transaction, then
// watchers, the writer's ack, and (for a local one) one gossip message.
func (n *Node) commitTxn(r *request) {
	start := time.Now()
	results, err := n.db.ApplyTxn(r.ops)
	n.m.applySeconds.Observe(time.Since(start).Seconds())
	n.m.batchOps.Observe(float64(len(r.ops)))
	if err != nil {
		n.log.Error("apply of a transaction failed", "ops", len(r.ops), "err", err)
		r.err = err
	} else {
		n.notify(r.ops, results)
		r.results = results
		n.cas.observe(r.ops, results, r.local)
	}
	var deltas []wire.Delta
	for j, res := range r.results {
		if res.Changed {
			n.m.countApplied(r.local)
		}
		if r.local && res.Err == nil && res.Delta != nil {
			deltas = append(deltas, wire.Delta{Key: r.ops[j].Key, State: res.Delta})
		}
	}
	if r.done != nil {
		close(r.done)
	}
	if len(deltas) == 0 {
		return
	}
	n.publish(publication{ns: r.ops[0].Namespace, deltas: deltas, txn: true})
}

// deliverTxn queues a transaction received by push as one atomic request.
// If any of its stamps is refused by the clock, the whole transaction is
// dropped (anti-entropy brings it later) rather than applied in part.
func (n *Node) deliverTxn(b wire.Batch) {
	ops := n.remoteOps(b.Namespace, b.Deltas)
	if len(ops) != len(b.Deltas) || len(ops) == 0 {
		return
	}
	select {
	case n.queue <- &request{ops: ops, atomic: true}:
	case <-n.ctx.Done():
	}
}

// opFailed says which op of a transaction failed, keeping the node
// sentinel first so that the message reads "<sentinel>: op N (...): why".
func opFailed(i int, op TxnOp, err error) error {
	for _, s := range Errors {
		if errors.Is(err, s) {
			why := strings.TrimPrefix(err.Error(), s.Error()+": ")
			return fmt.Errorf("%w: op %d (%s %q): %s", s, i, op.Kind, op.Key, why)
		}
	}
	return fmt.Errorf("op %d (%s %q): %w", i, op.Kind, op.Key, err)
}
