package grpcapi

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/grpcapi/kvpb"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node/nodetest"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// TestKV: every KV method through a real client over TCP does what the
// node does, as another door (the node's API) sees it.
func TestKV(t *testing.T) {
	s := newServed(t)
	ctx := context.Background()
	kv := s.kv

	put, err := kv.Put(ctx, &kvpb.PutRequest{Key: []byte("a"), Value: []byte("1")})
	if err != nil || put.GetVersion() == 0 {
		t.Fatalf("Put: %v, %v", put, err)
	}
	got, err := kv.Get(ctx, &kvpb.GetRequest{Key: []byte("a")})
	if err != nil || string(got.GetValue()) != "1" || got.GetVersion() != put.GetVersion() || got.GetOrigin() != s.node.Peer().ID().String() || got.GetExpiresUnixMs() != 0 {
		t.Fatalf("Get: %v, %v", got, err)
	}
	if v, err := s.node.Get(ctx, "", []byte("a")); err != nil || string(v.Data) != "1" {
		t.Errorf("the node reads %q, %v", v.Data, err)
	}

	// Conditions: if_absent, if_version; a failed one says the current version.
	_, err = kv.Put(ctx, &kvpb.PutRequest{Key: []byte("a"), Value: []byte("2"), IfAbsent: true})
	if md := wantCode(t, "put if absent on a present key", err, codes.FailedPrecondition, apitype.CodePrecondition); md["version"] != itoa(put.GetVersion()) {
		t.Errorf("failed condition: metadata %v, want version %d", md, put.GetVersion())
	}
	put2, err := kv.Put(ctx, &kvpb.PutRequest{Key: []byte("a"), Value: []byte("2"), IfVersion: put.GetVersion()})
	if err != nil {
		t.Fatalf("put at the current version: %v", err)
	}
	_, err = kv.Delete(ctx, &kvpb.DeleteRequest{Key: []byte("a"), IfVersion: put.GetVersion()})
	wantCode(t, "delete at an old version", err, codes.FailedPrecondition, apitype.CodePrecondition)
	if _, err := kv.Delete(ctx, &kvpb.DeleteRequest{Key: []byte("a"), IfVersion: put2.GetVersion()}); err != nil {
		t.Fatalf("delete at the current version: %v", err)
	}
	_, err = kv.Get(ctx, &kvpb.GetRequest{Key: []byte("a")})
	wantCode(t, "get a deleted key", err, codes.NotFound, apitype.CodeNotFound)
	if _, err := kv.Put(ctx, &kvpb.PutRequest{Key: []byte("a"), Value: []byte("3"), IfAbsent: true}); err != nil {
		t.Fatalf("put if absent on a deleted key: %v", err)
	}

	// TTL: the value carries its expiry.
	before := time.Now()
	if _, err := kv.Put(ctx, &kvpb.PutRequest{Key: []byte("ttl"), Value: []byte("x"), TtlMs: 60_000}); err != nil {
		t.Fatal(err)
	}
	got, err = kv.Get(ctx, &kvpb.GetRequest{Key: []byte("ttl")})
	if exp := time.UnixMilli(got.GetExpiresUnixMs()); err != nil || exp.Before(before.Add(59*time.Second)) || exp.After(time.Now().Add(61*time.Second)) {
		t.Errorf("Get after a put with a 60 s TTL: expires %v, %v", exp, err)
	}

	// Counters.
	if r, err := kv.Incr(ctx, &kvpb.IncrRequest{Key: []byte("c")}); err != nil || r.GetValue() != 1 {
		t.Errorf("Incr without by: %v, %v; want 1", r, err)
	}
	if r, err := kv.Incr(ctx, &kvpb.IncrRequest{Key: []byte("c"), By: proto.Int64(-5)}); err != nil || r.GetValue() != -4 {
		t.Errorf("Incr by -5: %v, %v; want -4", r, err)
	}
	if r, err := kv.Counter(ctx, &kvpb.CounterRequest{Key: []byte("c")}); err != nil || r.GetValue() != -4 {
		t.Errorf("Counter: %v, %v; want -4", r, err)
	}
	if _, err := kv.ResetCounter(ctx, &kvpb.ResetCounterRequest{Key: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.node.Counter(ctx, "", []byte("c")); err != nil || v != 0 {
		t.Errorf("after ResetCounter the node reads %d, %v", v, err)
	}

	// Sets.
	if _, err := kv.SetAdd(ctx, &kvpb.SetRequest{Key: []byte("s"), Members: [][]byte{[]byte("y"), []byte("x"), []byte("z")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.SetRemove(ctx, &kvpb.SetRequest{Key: []byte("s"), Members: [][]byte{[]byte("z")}}); err != nil {
		t.Fatal(err)
	}
	if r, err := kv.SetMembers(ctx, &kvpb.SetMembersRequest{Key: []byte("s")}); err != nil || !slices.EqualFunc(r.GetMembers(), [][]byte{[]byte("x"), []byte("y")}, bytes.Equal) {
		t.Errorf("SetMembers: %q, %v; want [x y]", r.GetMembers(), err)
	}

	// Namespaces are separate.
	if _, err := kv.Put(ctx, &kvpb.PutRequest{Namespace: "other", Key: []byte("a"), Value: []byte("o")}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.node.Get(ctx, "other", []byte("a")); err != nil || string(v.Data) != "o" {
		t.Errorf("namespace other: %q, %v", v.Data, err)
	}

	// List: every type, in key order, by pages (c, reset, holds nothing).
	if _, err := kv.Incr(ctx, &kvpb.IncrRequest{Key: []byte("b"), By: proto.Int64(2)}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var types []kvpb.Type
	var after []byte
	for pages := 0; ; pages++ {
		l, err := kv.List(ctx, &kvpb.ListRequest{After: after, Limit: 2})
		if err != nil || pages > 5 {
			t.Fatalf("List: %v (page %d)", err, pages)
		}
		for _, e := range l.GetEntries() {
			keys, types = append(keys, string(e.GetKey())), append(types, e.GetType())
		}
		if after = l.GetNext(); len(after) == 0 {
			break
		}
	}
	if want := []string{"a", "b", "s", "ttl"}; !slices.Equal(keys, want) {
		t.Errorf("List: keys %q, want %q", keys, want)
	}
	if want := []kvpb.Type{kvpb.Type_TYPE_REGISTER, kvpb.Type_TYPE_COUNTER, kvpb.Type_TYPE_SET, kvpb.Type_TYPE_REGISTER}; !slices.Equal(types, want) {
		t.Errorf("List: types %v, want %v", types, want)
	}
	l, err := kv.List(ctx, &kvpb.ListRequest{Prefix: []byte("t")})
	if err != nil || len(l.GetEntries()) != 1 || string(l.GetEntries()[0].GetValue()) != "x" {
		t.Errorf("List prefix t: %v, %v", l, err)
	}

	// Txn: all or nothing.
	_, err = kv.Txn(ctx, &kvpb.TxnRequest{Ops: []*kvpb.TxnOp{
		{Kind: kvpb.TxnOp_PUT, Key: []byte("t1"), Value: []byte("v")},
		{Kind: kvpb.TxnOp_PUT, Key: []byte("a"), Value: []byte("v"), IfAbsent: true}, // a is present
	}})
	wantCode(t, "a transaction with a failing condition", err, codes.FailedPrecondition, apitype.CodePrecondition)
	if _, err := s.node.Get(ctx, "", []byte("t1")); err == nil {
		t.Errorf("the refused transaction wrote t1")
	}
	tr, err := kv.Txn(ctx, &kvpb.TxnRequest{Ops: []*kvpb.TxnOp{
		{Kind: kvpb.TxnOp_PUT, Key: []byte("t1"), Value: []byte("v")},
		{Kind: kvpb.TxnOp_DELETE, Key: []byte("a")},
		{Kind: kvpb.TxnOp_INCR, Key: []byte("c"), By: 7},
	}})
	if err != nil || len(tr.GetResults()) != 3 || tr.GetResults()[0].GetVersion() == 0 || tr.GetResults()[2].GetCounter() != 7 {
		t.Fatalf("Txn: %v, %v", tr, err)
	}
	if _, err := s.node.Get(ctx, "", []byte("a")); err == nil {
		t.Errorf("the transaction did not delete a")
	}
	_, err = kv.Txn(ctx, &kvpb.TxnRequest{Ops: []*kvpb.TxnOp{{Key: []byte("k")}}})
	wantCode(t, "a transaction op without a kind", err, codes.InvalidArgument, apitype.CodeInvalidArgument)

	// Status.
	st, err := kv.Status(ctx, &kvpb.StatusRequest{})
	if err != nil || st.GetId() != s.node.Peer().ID().String() || st.GetLastIndex() != s.node.LastIndex() || st.GetNamespaces()["default"].GetItems() == 0 {
		t.Errorf("Status: %v, %v", st, err)
	}
}

// TestPeers: Peers lists the peers the node is connected to.
func TestPeers(t *testing.T) {
	c := nodetest.NewCluster(t, 2)
	s := serve(t, c.Node(0), nil)
	// A connected peer is listed once identify says it is of this network.
	testutil.Eventually(t, "node 1 among node 0's peers", func() bool { return len(c.Node(0).Peers()) == 1 })
	r, err := s.kv.Peers(context.Background(), &kvpb.PeersRequest{})
	if err != nil || len(r.GetPeers()) != 1 || r.GetPeers()[0].GetId() != c.Node(1).Peer().ID().String() || len(r.GetPeers()[0].GetAddrs()) == 0 {
		t.Fatalf("Peers: %v, %v; want peer %s", r, err, c.Node(1).Peer().ID())
	}
	st, err := s.kv.Status(context.Background(), &kvpb.StatusRequest{})
	if err != nil || st.GetPeers() != 1 {
		t.Errorf("Status: %d peers, %v; want 1", st.GetPeers(), err)
	}
}
