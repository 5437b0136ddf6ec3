package grpcapi

import (
	"context"
	"time"

	"github.com/grapevine-kv/grapevine/api/grpcapi/kvpb"
	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/node"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

// The KV methods: each converts its request, calls the node method of the
// same name, and converts the answer (convert.go); errors go through
// statusError.

// Put sets a key's value (PutWith: a condition, a TTL).
func (s *Server) Put(ctx context.Context, r *kvpb.PutRequest) (*kvpb.PutResponse, error) {
	o, err := writeOptions(r.GetIfVersion(), r.GetIfAbsent(), r.GetTtlMs())
	if err != nil {
		return nil, err
	}
	v, err := s.node.PutWith(ctx, r.GetNamespace(), r.GetKey(), r.GetValue(), o)
	if err != nil {
		return nil, statusError(err, nil)
	}
	return &kvpb.PutResponse{Version: uint64(v)}, nil
}

// Get returns a key's value.
func (s *Server) Get(ctx context.Context, r *kvpb.GetRequest) (*kvpb.GetResponse, error) {
	v, err := s.node.Get(ctx, r.GetNamespace(), r.GetKey())
	if err != nil {
		return nil, statusError(err, nil)
	}
	return &kvpb.GetResponse{Value: v.Data, Version: uint64(v.Version), Origin: libp2ppeer.ID(v.Origin).String(), ExpiresUnixMs: unixMs(v.Expires)}, nil
}

// Delete deletes a key (DeleteWith: a condition).
func (s *Server) Delete(ctx context.Context, r *kvpb.DeleteRequest) (*kvpb.DeleteResponse, error) {
	o := node.WriteOptions{IfVersion: crdt.Timestamp(r.GetIfVersion())}
	if err := s.node.DeleteWith(ctx, r.GetNamespace(), r.GetKey(), o); err != nil {
		return nil, statusError(err, nil)
	}
	return &kvpb.DeleteResponse{}, nil
}

// List returns a page of live keys.
func (s *Server) List(ctx context.Context, r *kvpb.ListRequest) (*kvpb.ListResponse, error) {
	if r.GetLimit() < 0 {
		return nil, statusError(invalid("limit must not be negative (0: the default, 1000)"), nil)
	}
	p, err := s.node.List(ctx, r.GetNamespace(), node.ListOptions{Prefix: r.GetPrefix(), After: r.GetAfter(), Limit: int(r.GetLimit())})
	if err != nil {
		return nil, statusError(err, nil)
	}
	out := &kvpb.ListResponse{Next: p.Next, Entries: make([]*kvpb.Entry, len(p.Entries))}
	for i, e := range p.Entries {
		out.Entries[i] = &kvpb.Entry{Key: e.Key, Type: typeOf(e.Type), Value: e.Data, Version: uint64(e.Version),
			ExpiresUnixMs: unixMs(e.Expires), Counter: e.Counter, Members: e.Members}
	}
	return out, nil
}

// Incr adds to a counter (by 1 when the request has no by).
func (s *Server) Incr(ctx context.Context, r *kvpb.IncrRequest) (*kvpb.IncrResponse, error) {
	by := int64(1)
	if r.By != nil {
		by = r.GetBy()
	}
	v, err := s.node.Incr(ctx, r.GetNamespace(), r.GetKey(), by)
	if err != nil {
		return nil, statusError(err, nil)
	}
	return &kvpb.IncrResponse{Value: v}, nil
}

// Counter returns a counter's value.
func (s *Server) Counter(ctx context.Context, r *kvpb.CounterRequest) (*kvpb.CounterResponse, error) {
	v, err := s.node.Counter(ctx, r.GetNamespace(), r.GetKey())
	if err != nil {
		return nil, statusError(err, nil)
	}
	return &kvpb.CounterResponse{Value: v}, nil
}

// ResetCounter sets a counter back to 0.
func (s *Server) ResetCounter(ctx context.Context, r *kvpb.ResetCounterRequest) (*kvpb.ResetCounterResponse, error) {
	if err := s.node.ResetCounter(ctx, r.GetNamespace(), r.GetKey()); err != nil {
		return nil, statusError(err, nil)
	}
	return &kvpb.ResetCounterResponse{}, nil
}

// SetAdd adds members to a set.
func (s *Server) SetAdd(ctx context.Context, r *kvpb.SetRequest) (*kvpb.SetResponse, error) {
	if err := s.node.SetAdd(ctx, r.GetNamespace(), r.GetKey(), r.GetMembers()...); err != nil {
		return nil, statusError(err, nil)
	}
	return &kvpb.SetResponse{}, nil
}

// SetRemove removes members from a set.
func (s *Server) SetRemove(ctx context.Context, r *kvpb.SetRequest) (*kvpb.SetResponse, error) {
	if err := s.node.SetRemove(ctx, r.GetNamespace(), r.GetKey(), r.GetMembers()...); err != nil {
		return nil, statusError(err, nil)
	}
	return &kvpb.SetResponse{}, nil
}

// SetMembers returns a set's members.
func (s *Server) SetMembers(ctx context.Context, r *kvpb.SetMembersRequest) (*kvpb.SetMembersResponse, error) {
	m, err := s.node.SetMembers(ctx, r.GetNamespace(), r.GetKey())
	if err != nil {
		return nil, statusError(err, nil)
	}
	return &kvpb.SetMembersResponse{Members: m}, nil
}

// Txn applies ops all or nothing.
func (s *Server) Txn(ctx context.Context, r *kvpb.TxnRequest) (*kvpb.TxnResponse, error) {
	ops := make([]node.TxnOp, len(r.GetOps()))
	for i, op := range r.GetOps() {
		kind, ok := txnKinds[op.GetKind()]
		if !ok {
			return nil, statusError(invalid("op %d: kind must be PUT, DELETE or INCR, got %v", i, op.GetKind()), nil)
		}
		o, err := writeOptions(op.GetIfVersion(), op.GetIfAbsent(), op.GetTtlMs())
		if err != nil {
			return nil, err
		}
		ops[i] = node.TxnOp{Kind: kind, Key: op.GetKey(), Value: op.GetValue(), By: op.GetBy(), WriteOptions: o}
	}
	res, err := s.node.Txn(ctx, r.GetNamespace(), ops)
	if err != nil {
		return nil, statusError(err, nil)
	}
	out := &kvpb.TxnResponse{Results: make([]*kvpb.TxnResult, len(res))}
	for i, x := range res {
		out.Results[i] = &kvpb.TxnResult{Version: uint64(x.Version), Counter: x.Counter}
	}
	return out, nil
}

// Status describes this peer.
func (s *Server) Status(context.Context, *kvpb.StatusRequest) (*kvpb.StatusResponse, error) {
	if err := s.node.Err(); err != nil {
		return nil, statusError(err, nil)
	}
	st := s.node.Status()
	out := &kvpb.StatusResponse{Id: st.ID, Network: st.Network, Addrs: st.Addrs, Peers: int32(st.Peers),
		LastIndex: s.node.LastIndex(), Namespaces: make(map[string]*kvpb.NamespaceStatus, len(st.Namespaces))}
	for ns, n := range st.Namespaces {
		out.Namespaces[ns] = &kvpb.NamespaceStatus{Items: n.Items, Tombstones: n.Tombstones,
			Syncing: n.Sync.Syncing, LastRoundUnixMs: unixMs(n.Sync.LastRound)}
	}
	return out, nil
}

// Peers lists the connected peers.
func (s *Server) Peers(context.Context, *kvpb.PeersRequest) (*kvpb.PeersResponse, error) {
	if err := s.node.Err(); err != nil {
		return nil, statusError(err, nil)
	}
	out := &kvpb.PeersResponse{}
	for _, p := range s.node.Peers() {
		pi := &kvpb.PeerInfo{Id: p.ID.String(), LatencyUs: p.Latency.Microseconds()}
		for _, a := range p.Addrs {
			pi.Addrs = append(pi.Addrs, a.String())
		}
		out.Peers = append(out.Peers, pi)
	}
	return out, nil
}

// unixMs is t in Unix milliseconds, 0 for the zero time.
func unixMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
