package node

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
)

// The asking side of the forwarded operations beyond Get, Put, Delete,
// Incr and Counter (which kv.go and cond.go forward inline): each turns
// its arguments into a wire.ForwardRequest and the holder's answer back
// into what the local method returns. The caller has validated its
// arguments as the local path does, so a holder refuses only what depends
// on its own state (a failed condition, a writer list).

// The node's codes in wire.ForwardResponse.Status.
const (
	forwardFailed    = 1 // Error holds a node error's text (see remoteError)
	forwardCondition = 2 // a *ConditionError: CondKey, CondWant, CondOp; Version is the current one
)

// forwardErr is the error of a holder's answer, nil on success.
func forwardErr(r wire.ForwardResponse) error {
	switch r.Status {
	case 0:
		return nil
	case forwardCondition:
		return &ConditionError{Key: r.CondKey, Current: crdt.Timestamp(r.Version), Want: r.CondWant, Op: r.CondOp}
	}
	return remoteError(r.Error)
}

// wireCond is o on the wire; writeOptions is the way back.
func wireCond(o WriteOptions) wire.ForwardCond {
	return wire.ForwardCond{IfVersion: uint64(o.IfVersion), IfAbsent: o.IfAbsent, TTLNanos: int64(o.TTL)}
}

func writeOptions(c wire.ForwardCond) WriteOptions {
	return WriteOptions{IfVersion: crdt.Timestamp(c.IfVersion), IfAbsent: c.IfAbsent, TTL: time.Duration(c.TTLNanos)}
}

// forwardList is List for a namespace held elsewhere; every entry's
// ServedBy names the holder.
func (n *Node) forwardList(ctx context.Context, ns string, opts ListOptions, limit int) (Page, error) {
	resp, by, err := n.forwardRequest(ctx, wire.ForwardRequest{Op: wire.ForwardList, Namespace: ns,
		Prefix: opts.Prefix, After: opts.After, Limit: uint32(limit)})
	if err != nil {
		return Page{}, err
	}
	page := Page{Next: resp.Next, Entries: make([]Entry, 0, len(resp.Entries))}
	for _, e := range resp.Entries {
		v := valueOfResponse(wire.ForwardResponse{Value: e.Value, Version: e.Version, Origin: e.Origin, ExpiresMillis: e.ExpiresMillis}, by)
		page.Entries = append(page.Entries, Entry{Key: e.Key, Type: crdt.Type(e.Type), Value: v, Counter: e.Counter, Members: e.Members})
	}
	return page, nil
}

// forwardTypes is Types for a namespace held elsewhere.
func (n *Node) forwardTypes(ctx context.Context, ns string, key []byte) ([]crdt.Type, error) {
	resp, _, err := n.forwardRequest(ctx, wire.ForwardRequest{Op: wire.ForwardTypes, Namespace: ns, Key: key})
	if err != nil {
		return nil, err
	}
	var out []crdt.Type
	for _, t := range resp.Types {
		out = append(out, crdt.Type(t))
	}
	return out, nil
}

// forwardSet forwards a set op or a counter reset (op), which answer
// nothing but success, or the members and membership a read asks for.
func (n *Node) forwardSet(ctx context.Context, op wire.ForwardOp, ns string, key []byte, members [][]byte) (wire.ForwardResponse, error) {
	resp, _, err := n.forwardRequest(ctx, wire.ForwardRequest{Op: op, Namespace: ns, Key: key, Members: members})
	return resp, err
}

// forwardTxn is Txn for a namespace held elsewhere.
func (n *Node) forwardTxn(ctx context.Context, ns string, ops []TxnOp) ([]TxnResult, error) {
	req := wire.ForwardRequest{Op: wire.ForwardTxn, Namespace: ns, Txn: make([]wire.ForwardTxnOp, len(ops))}
	for i, op := range ops {
		req.Txn[i] = wire.ForwardTxnOp{Kind: uint8(op.Kind), Key: op.Key, Value: op.Value, By: op.By, ForwardCond: wireCond(op.WriteOptions)}
	}
	resp, _, err := n.forwardRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make([]TxnResult, len(ops))
	for i := range min(len(ops), len(resp.Txn)) {
		out[i] = TxnResult{Version: crdt.Timestamp(resp.Txn[i].Version), Counter: resp.Txn[i].Counter}
	}
	return out, nil
}

// watchElsewhere is the error of a Watch of a namespace held elsewhere:
// it names up to three holders found in the DHT, to watch directly.
func (n *Node) watchElsewhere(ctx context.Context, ns string) error {
	var ids []string
	for _, id := range n.fwd.candidates(ctx, ns, false) {
		if len(ids) < 3 {
			ids = append(ids, id.String())
		}
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w: namespace %q is not replicated by this peer, watches are not forwarded, and the DHT knows no peer holding it", ErrNoHolder, ns)
	}
	return fmt.Errorf("%w: namespace %q is not replicated by this peer, and watches are not forwarded (their change indexes are the serving peer's own): watch it on a peer that holds it: %s", ErrNoHolder, ns, strings.Join(ids, ", "))
}
