package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/libp2p/go-libp2p/core/network"
)

// forwardServeTimeout bounds serving one forwarded request.
const forwardServeTimeout = 30 * time.Second

// serveForward answers forwarded requests (see forward.go) until Close.
func (n *Node) serveForward() {
	n.peer.Host().SetStreamHandler(n.fwd.proto, n.handleForward)
}

// handleForward reads one request, applies it through the node's own path
// and writes the answer.
func (n *Node) handleForward(s network.Stream) {
	defer func() { _ = s.Close() }()
	_ = s.SetDeadline(time.Now().Add(forwardServeTimeout))
	fr, err := wire.ReadFrame(bufio.NewReader(s), nil)
	if err != nil || fr.Kind != wire.FrameForwardRequest {
		_ = s.Reset()
		return
	}
	req, err := wire.UnmarshalForwardRequest(fr.Payload)
	if err != nil {
		_ = s.Reset()
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, forwardServeTimeout)
	defer cancel()
	resp := n.serve(ctx, req)
	_, _ = s.Write(wire.AppendFrame(nil, wire.FrameForwardResponse, resp.Marshal()))
}

// serve applies a forwarded request; a namespace this peer does not
// replicate is refused (ErrNoHolder: the asker tries another holder), so
// a request is never forwarded twice.
func (n *Node) serve(ctx context.Context, req wire.ForwardRequest) wire.ForwardResponse {
	if !n.replicates(req.Namespace) {
		return forwardFailure(fmt.Errorf("%w: peer %s does not replicate namespace %q", ErrNoHolder, n.self, req.Namespace))
	}
	if _, signed := n.writers[req.Namespace]; signed && forwardWrites[req.Op] {
		return forwardFailure(fmt.Errorf("%w: namespace %q has a writer list; a forwarded write would be signed by the holder, so it is refused: write it on a peer on the list", ErrForbidden, req.Namespace))
	}
	resp, err := n.serveOp(ctx, req)
	if err != nil {
		return forwardFailure(err)
	}
	return resp
}

// forwardWrites are the forwarded ops that write.
var forwardWrites = map[wire.ForwardOp]bool{
	wire.ForwardPut: true, wire.ForwardDelete: true, wire.ForwardIncr: true, wire.ForwardReset: true,
	wire.ForwardSetAdd: true, wire.ForwardSetDel: true, wire.ForwardTxn: true,
}

// forwardFailure is the answer carrying err: a failed condition with its
// details, any other error as its text.
func forwardFailure(err error) wire.ForwardResponse {
	var ce *ConditionError
	if errors.As(err, &ce) {
		return wire.ForwardResponse{Status: forwardCondition, Error: err.Error(), Version: uint64(ce.Current),
			CondKey: ce.Key, CondWant: ce.Want, CondOp: ce.Op}
	}
	return wire.ForwardResponse{Status: forwardFailed, Error: err.Error()}
}

// serveOp applies req through the node's own methods.
func (n *Node) serveOp(ctx context.Context, req wire.ForwardRequest) (wire.ForwardResponse, error) {
	var resp wire.ForwardResponse
	var err error
	ns, key := req.Namespace, req.Key
	switch req.Op {
	case wire.ForwardGet:
		var v Value
		if v, err = n.Get(ctx, ns, key); err == nil {
			resp.Value, resp.Version, resp.Origin = v.Data, uint64(v.Version), string(v.Origin)
			if !v.Expires.IsZero() {
				resp.ExpiresMillis = v.Expires.UnixMilli()
			}
		}
	case wire.ForwardPut:
		var ts crdt.Timestamp
		ts, err = n.PutWith(ctx, ns, key, req.Value, writeOptions(req.ForwardCond))
		resp.Version = uint64(ts)
	case wire.ForwardDelete:
		err = n.DeleteWith(ctx, ns, key, writeOptions(req.ForwardCond))
	case wire.ForwardIncr:
		resp.Counter, err = n.Incr(ctx, ns, key, req.By)
	case wire.ForwardCounter:
		resp.Counter, err = n.Counter(ctx, ns, key)
	case wire.ForwardList:
		var page Page
		if page, err = n.List(ctx, ns, ListOptions{Prefix: req.Prefix, After: req.After, Limit: int(req.Limit)}); err == nil {
			resp.Entries, resp.Next, err = fitPage(page)
		}
	case wire.ForwardTypes:
		var types []crdt.Type
		types, err = n.Types(ctx, ns, key)
		for _, t := range types {
			resp.Types = append(resp.Types, uint8(t))
		}
	case wire.ForwardReset:
		err = n.ResetCounter(ctx, ns, key)
	case wire.ForwardSetAdd:
		err = n.SetAdd(ctx, ns, key, req.Members...)
	case wire.ForwardSetDel:
		err = n.SetRemove(ctx, ns, key, req.Members...)
	case wire.ForwardMembers:
		resp.Members, err = n.SetMembers(ctx, ns, key)
	case wire.ForwardHas:
		if len(req.Members) != 1 {
			return resp, fmt.Errorf("%w: a forwarded membership test names one member, got %d", ErrInvalidArgument, len(req.Members))
		}
		resp.Contains, err = n.SetContains(ctx, ns, key, req.Members[0])
	case wire.ForwardTxn:
		resp.Txn, err = n.serveTxn(ctx, ns, req.Txn)
	}
	return resp, err
}

// serveTxn applies a forwarded transaction.
func (n *Node) serveTxn(ctx context.Context, ns string, in []wire.ForwardTxnOp) ([]wire.ForwardTxnResult, error) {
	ops := make([]TxnOp, len(in))
	for i, op := range in {
		ops[i] = TxnOp{Kind: TxnKind(op.Kind), Key: op.Key, Value: op.Value, By: op.By, WriteOptions: writeOptions(op.ForwardCond)}
	}
	res, err := n.Txn(ctx, ns, ops)
	if err != nil {
		return nil, err
	}
	out := make([]wire.ForwardTxnResult, len(res))
	for i, r := range res {
		out[i] = wire.ForwardTxnResult{Version: uint64(r.Version), Counter: r.Counter}
	}
	return out, nil
}

// forwardPageBudget bounds the entries of one forwarded page, leaving room
// in a frame (wire.MaxFrameSize) for the rest of the answer.
const forwardPageBudget = wire.MaxFrameSize - 64<<10

// fitPage turns page into forwarded entries, cutting it before the first
// name whose entries would take it past forwardPageBudget (a page never
// splits a name's entries): the asker continues from Next. A single name
// too large for a frame is ErrValueTooLarge.
func fitPage(page Page) ([]wire.ForwardEntry, []byte, error) {
	out := make([]wire.ForwardEntry, 0, len(page.Entries))
	size, cut := 0, -1 // cut: entries up to here end a name and fit
	for i, e := range page.Entries {
		fe := wire.ForwardEntry{Key: e.Key, Type: uint8(e.Type), Value: e.Data, Version: uint64(e.Version),
			Origin: string(e.Origin), Counter: e.Counter, Members: e.Members}
		if !e.Expires.IsZero() {
			fe.ExpiresMillis = e.Expires.UnixMilli()
		}
		size += len(fe.Key) + len(fe.Value) + len(fe.Origin) + 48
		for _, m := range fe.Members {
			size += len(m) + 4
		}
		if size > forwardPageBudget {
			if cut < 0 {
				return nil, nil, fmt.Errorf("%w: key %q is too large to forward in a listing (over %d bytes); list it on a holder", ErrValueTooLarge, e.Key, forwardPageBudget)
			}
			return out[:cut+1], out[cut].Key, nil
		}
		out = append(out, fe)
		if i+1 == len(page.Entries) || !bytes.Equal(page.Entries[i+1].Key, e.Key) {
			cut = i
		}
	}
	return out, page.Next, nil
}
