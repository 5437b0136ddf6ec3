package grpcapi

import (
	"context"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/grpcapi/kvpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// recvEvent receives one event or fails.
func recvEvent(t *testing.T, w grpc.ServerStreamingClient[kvpb.Event]) *kvpb.Event {
	t.Helper()
	ev, err := w.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return ev
}

// TestWatch: a watch streams changes under its prefix as they happen, with
// the peer and its last index in the headers; since= resumes after an
// event's index without a gap; an index of another peer, or one the peer
// never gave, is OutOfRange (compacted) with where to resume; the
// shutdown ends the stream Unavailable.
func TestWatch(t *testing.T) {
	s := newServed(t)
	// A broken watch fails the test at the deadline instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv := s.kv
	self := s.node.Peer().ID().String()
	if _, err := kv.Put(ctx, &kvpb.PutRequest{Key: []byte("p/before"), Value: []byte("0")}); err != nil {
		t.Fatal(err)
	}
	w, err := kv.Watch(ctx, &kvpb.WatchRequest{Prefix: []byte("p/")})
	if err != nil {
		t.Fatal(err)
	}
	md, err := w.Header()
	if err != nil || len(md.Get(PeerHeader)) != 1 || md.Get(PeerHeader)[0] != self || md.Get(IndexHeader)[0] != itoa(s.node.LastIndex()) {
		t.Fatalf("watch headers %v, %v; want peer %s, index %d", md, err, self, s.node.LastIndex())
	}
	for _, k := range []string{"other", "p/1", "p/2"} {
		if _, err := kv.Put(ctx, &kvpb.PutRequest{Key: []byte(k), Value: []byte(k)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kv.Delete(ctx, &kvpb.DeleteRequest{Key: []byte("p/1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Incr(ctx, &kvpb.IncrRequest{Key: []byte("p/c"), By: proto.Int64(3)}); err != nil {
		t.Fatal(err)
	}
	e1, e2, e3, e4 := recvEvent(t, w), recvEvent(t, w), recvEvent(t, w), recvEvent(t, w)
	if string(e1.GetKey()) != "p/1" || string(e1.GetValue()) != "p/1" || e1.GetType() != kvpb.Type_TYPE_REGISTER || e1.GetVersion() == 0 || e1.GetNamespace() != "default" {
		t.Errorf("first event %v, want the put of p/1", e1)
	}
	if string(e2.GetKey()) != "p/2" || e2.GetIndex() <= e1.GetIndex() {
		t.Errorf("second event %v, want the put of p/2 after index %d", e2, e1.GetIndex())
	}
	if string(e3.GetKey()) != "p/1" || !e3.GetDeleted() {
		t.Errorf("third event %v, want the delete of p/1", e3)
	}
	if string(e4.GetKey()) != "p/c" || e4.GetType() != kvpb.Type_TYPE_COUNTER || e4.GetCounter() != 3 {
		t.Errorf("fourth event %v, want counter p/c at 3", e4)
	}

	// Resume after e2: the changes since (p/1 deleted, p/c), then live.
	r, err := kv.Watch(ctx, &kvpb.WatchRequest{Prefix: []byte("p/"), Since: proto.Uint64(e2.GetIndex()), Peer: self})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]*kvpb.Event{}
	for len(seen) < 2 {
		ev := recvEvent(t, r)
		seen[string(ev.GetKey())] = ev
	}
	if !seen["p/1"].GetDeleted() || seen["p/c"].GetCounter() != 3 {
		t.Errorf("replayed since %d: %v", e2.GetIndex(), seen)
	}
	if _, err := kv.Put(ctx, &kvpb.PutRequest{Key: []byte("p/3"), Value: []byte("3")}); err != nil {
		t.Fatal(err)
	}
	if ev := recvEvent(t, r); string(ev.GetKey()) != "p/3" {
		t.Errorf("live after the replay: %v, want p/3", ev)
	}

	// Compacted: another peer's index, or one this peer never gave.
	for name, req := range map[string]*kvpb.WatchRequest{
		"another peer's index": {Since: proto.Uint64(1), Peer: "12D3KooWSomeOtherPeer"},
		"an index ahead":       {Since: proto.Uint64(s.node.LastIndex() + 100)},
	} {
		c, err := kv.Watch(ctx, req)
		if err == nil {
			_, err = c.Recv()
		}
		md := wantCode(t, name, err, codes.OutOfRange, apitype.CodeCompacted)
		if md["index"] != itoa(s.node.LastIndex()) || md["peer"] != self {
			t.Errorf("%s: metadata %v, want index %d and peer %s", name, md, s.node.LastIndex(), self)
		}
		if h, _ := c.Header(); len(h.Get(IndexHeader)) != 1 || h.Get(IndexHeader)[0] != itoa(s.node.LastIndex()) {
			t.Errorf("%s: headers %v, want the index", name, h)
		}
	}
	c, err := kv.Watch(ctx, &kvpb.WatchRequest{Peer: self})
	if err == nil {
		_, err = c.Recv()
	}
	wantCode(t, "peer without since", err, codes.InvalidArgument, apitype.CodeInvalidArgument)

	// The shutdown ends an open watch at once, Unavailable.
	if ev := recvEvent(t, w); string(ev.GetKey()) != "p/3" {
		t.Fatalf("the first watch: %v, want p/3", ev)
	}
	done := make(chan error, 1)
	go func() { done <- s.stop() }()
	_, err = w.Recv()
	wantCode(t, "a watch at the shutdown", err, codes.Unavailable, apitype.CodeUnavailable)
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
