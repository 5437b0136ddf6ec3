package grpcapi

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/grapevine-kv/grapevine/api/grpcapi/kvpb"
	"github.com/grapevine-kv/grapevine/node/nodetest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// FuzzRequests decodes arbitrary bytes as each unary request the server
// takes and calls its method on a real node: whatever the input, the
// answer is a success or a status that blames the request (never Unknown
// or Internal), and nothing panics.
func FuzzRequests(f *testing.F) {
	seeds := []proto.Message{
		&kvpb.PutRequest{Key: []byte("k"), Value: []byte("v"), IfAbsent: true, TtlMs: 1000},
		&kvpb.PutRequest{Namespace: "Bad NS", Key: []byte("k")},
		&kvpb.GetRequest{Key: []byte("k")},
		&kvpb.DeleteRequest{Key: []byte("k"), IfVersion: 3},
		&kvpb.ListRequest{Prefix: []byte("k"), Limit: -1},
		&kvpb.IncrRequest{Key: []byte("c"), By: proto.Int64(1 << 62)},
		&kvpb.SetRequest{Key: []byte("s"), Members: [][]byte{{}, []byte("m")}},
		&kvpb.TxnRequest{Ops: []*kvpb.TxnOp{{Kind: kvpb.TxnOp_PUT, Key: []byte("k"), IfVersion: 1, IfAbsent: true}, {Kind: 9}}},
	}
	for i, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	cfg := nodetest.Config(f)
	cfg.MaxValueSize = testMaxValue
	n := nodetest.Start(f, cfg)
	s := New(n, Config{MaxValueSize: testMaxValue, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	calls := []func([]byte) error{
		func(b []byte) error {
			r := &kvpb.PutRequest{}
			return call(b, r, func() error { _, err := s.Put(ctx, r); return err })
		},
		func(b []byte) error {
			r := &kvpb.GetRequest{}
			return call(b, r, func() error { _, err := s.Get(ctx, r); return err })
		},
		func(b []byte) error {
			r := &kvpb.DeleteRequest{}
			return call(b, r, func() error { _, err := s.Delete(ctx, r); return err })
		},
		func(b []byte) error {
			r := &kvpb.ListRequest{}
			return call(b, r, func() error { _, err := s.List(ctx, r); return err })
		},
		func(b []byte) error {
			r := &kvpb.IncrRequest{}
			return call(b, r, func() error { _, err := s.Incr(ctx, r); return err })
		},
		func(b []byte) error {
			r := &kvpb.SetRequest{}
			return call(b, r, func() error { _, err := s.SetAdd(ctx, r); return err })
		},
		func(b []byte) error {
			r := &kvpb.SetRequest{}
			return call(b, r, func() error { _, err := s.SetRemove(ctx, r); return err })
		},
		func(b []byte) error {
			r := &kvpb.TxnRequest{}
			return call(b, r, func() error { _, err := s.Txn(ctx, r); return err })
		},
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		err := calls[int(which)%len(calls)](b)
		if err == nil {
			return
		}
		st, ok := status.FromError(err)
		if !ok || st.Code() == codes.Unknown || st.Code() == codes.Internal {
			t.Fatalf("method %d: %v", int(which)%len(calls), err)
		}
	})
}

// call decodes b into r and calls fn; undecodable bytes are no call (gRPC
// refuses them before the method).
func call(b []byte, r proto.Message, fn func() error) error {
	if proto.Unmarshal(b, r) != nil {
		return nil
	}
	return fn()
}
