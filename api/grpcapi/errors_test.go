package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/grpcapi/kvpb"
	"github.com/grapevine-kv/grapevine/node"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// TestErrorTableCoversNodeErrors: every node sentinel has exactly one
// entry in errorTable; a wrapped sentinel answers its code, the HTTP
// API's error code as ErrorInfo reason, and a message. Only a failed disk
// and the impossible ones are Internal.
func TestErrorTableCoversNodeErrors(t *testing.T) {
	for _, s := range node.Errors {
		n := 0
		var code codes.Code
		for _, m := range errorTable {
			if m.sentinel == s {
				n++
				code = m.code
			}
		}
		if n != 1 {
			t.Errorf("%v: %d entries in errorTable, want 1", s, n)
			continue
		}
		err := statusError(fmt.Errorf("some context: %w", s), nil)
		md := wantCode(t, s.Error(), err, code, "")
		_ = md
		st, _ := status.FromError(err)
		if reason := errorReason(st); apitype.CodeError(reason) == nil {
			t.Errorf("%v: reason %q is not an apitype code", s, reason)
		}
		if code == codes.Internal && s != node.ErrStorage && s != node.ErrInvalidConfig && s != node.ErrAlreadyStarted {
			t.Errorf("%v is Internal", s)
		}
	}
	if len(errorTable) != len(node.Errors) {
		t.Errorf("errorTable has %d entries, node.Errors %d: remove the stale ones", len(errorTable), len(node.Errors))
	}
	if st, _ := status.FromError(statusError(fmt.Errorf("%w: %w", node.ErrCanceled, node.ErrClosed), nil)); st.Code() != codes.Unavailable {
		t.Errorf("canceled by a shutdown: %v, want Unavailable", st.Code())
	}
	if st, _ := status.FromError(statusError(fmt.Errorf("%w: %w", node.ErrCanceled, context.DeadlineExceeded), nil)); st.Code() != codes.DeadlineExceeded {
		t.Errorf("past the deadline: %v, want DeadlineExceeded", st.Code())
	}
	if st, _ := status.FromError(statusError(errors.New("mystery"), nil)); st.Code() != codes.Internal {
		t.Errorf("an unknown error: %v, want Internal", st.Code())
	}
}

// errorReason is the reason of st's ErrorInfo, or "".
func errorReason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(interface{ GetReason() string }); ok {
			return info.GetReason()
		}
	}
	return ""
}

// TestErrors: bad input and failures reach a real client as the status
// codes of the table, with the HTTP API's code as the reason.
func TestErrors(t *testing.T) {
	s := newServed(t)
	ctx := context.Background()
	kv := s.kv
	_, err := kv.Get(ctx, &kvpb.GetRequest{Key: []byte("absent")})
	wantCode(t, "absent key", err, codes.NotFound, apitype.CodeNotFound)
	_, err = kv.Put(ctx, &kvpb.PutRequest{Value: []byte("v")})
	wantCode(t, "empty key", err, codes.InvalidArgument, apitype.CodeInvalidKey)
	_, err = kv.Put(ctx, &kvpb.PutRequest{Key: make([]byte, node.MaxKeyLen+1)})
	wantCode(t, "key too long", err, codes.InvalidArgument, apitype.CodeInvalidKey)
	_, err = kv.Get(ctx, &kvpb.GetRequest{Namespace: "Not Valid", Key: []byte("k")})
	wantCode(t, "bad namespace", err, codes.InvalidArgument, apitype.CodeInvalidNamespace)
	_, err = kv.Put(ctx, &kvpb.PutRequest{Key: []byte("k"), IfVersion: 5, IfAbsent: true})
	wantCode(t, "both conditions", err, codes.InvalidArgument, apitype.CodeInvalidArgument)
	_, err = kv.Put(ctx, &kvpb.PutRequest{Key: []byte("k"), TtlMs: -1})
	wantCode(t, "negative TTL", err, codes.InvalidArgument, apitype.CodeInvalidArgument)
	_, err = kv.List(ctx, &kvpb.ListRequest{Limit: -1})
	wantCode(t, "negative limit", err, codes.InvalidArgument, apitype.CodeInvalidArgument)
	_, err = kv.SetAdd(ctx, &kvpb.SetRequest{Key: []byte("s"), Members: [][]byte{{}}})
	wantCode(t, "empty set member", err, codes.InvalidArgument, apitype.CodeInvalidArgument)
	_, err = kv.Txn(ctx, &kvpb.TxnRequest{})
	wantCode(t, "empty transaction", err, codes.InvalidArgument, apitype.CodeInvalidArgument)
	ops := make([]*kvpb.TxnOp, node.MaxTxnOps+1)
	for i := range ops {
		ops[i] = &kvpb.TxnOp{Kind: kvpb.TxnOp_INCR, Key: fmt.Appendf(nil, "c%d", i), By: 1}
	}
	_, err = kv.Txn(ctx, &kvpb.TxnRequest{Ops: ops})
	wantCode(t, "too many ops", err, codes.ResourceExhausted, apitype.CodeTxnTooLarge)

	// The value limit: one byte over is the node's check; far over, the
	// server's receive limit, with the same code.
	if _, err := kv.Put(ctx, &kvpb.PutRequest{Key: []byte("big"), Value: make([]byte, testMaxValue)}); err != nil {
		t.Fatalf("a value at the limit: %v", err)
	}
	_, err = kv.Put(ctx, &kvpb.PutRequest{Key: []byte("big"), Value: make([]byte, testMaxValue+1)})
	wantCode(t, "a value one byte over the limit", err, codes.ResourceExhausted, apitype.CodeValueTooLarge)
	_, err = kv.Put(ctx, &kvpb.PutRequest{Key: []byte("big"), Value: make([]byte, MaxMessageSize(testMaxValue)+1)})
	wantCode(t, "a message over the receive limit", err, codes.ResourceExhausted, "")

	if _, err := kv.Incr(ctx, &kvpb.IncrRequest{Key: []byte("o"), By: proto.Int64(1 << 62)}); err != nil {
		t.Fatal(err)
	}
	_, err = kv.Incr(ctx, &kvpb.IncrRequest{Key: []byte("o"), By: proto.Int64(1 << 62)})
	wantCode(t, "overflow", err, codes.OutOfRange, apitype.CodeOverflow)

	// A closed node: every method is Unavailable, with a message that says so.
	if err := s.node.Close(); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"Get":    func() error { _, err := kv.Get(ctx, &kvpb.GetRequest{Key: []byte("k")}); return err },
		"Put":    func() error { _, err := kv.Put(ctx, &kvpb.PutRequest{Key: []byte("k")}); return err },
		"List":   func() error { _, err := kv.List(ctx, &kvpb.ListRequest{}); return err },
		"Status": func() error { _, err := kv.Status(ctx, &kvpb.StatusRequest{}); return err },
		"Peers":  func() error { _, err := kv.Peers(ctx, &kvpb.PeersRequest{}); return err },
		"Watch": func() error {
			w, err := kv.Watch(ctx, &kvpb.WatchRequest{})
			if err == nil {
				_, err = w.Recv()
			}
			return err
		},
	} {
		err := call()
		wantCode(t, name+" on a closed node", err, codes.Unavailable, apitype.CodeUnavailable)
		if st, _ := status.FromError(err); !strings.Contains(st.Message(), "shutting down") {
			t.Errorf("%s on a closed node: %q does not say the peer is shutting down", name, st.Message())
		}
	}
}
