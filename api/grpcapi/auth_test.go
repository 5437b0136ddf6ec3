package grpcapi

import (
	"context"
	"testing"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/grpcapi/kvpb"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// TestMethodsTable: every method of the KV service says what token it
// needs, and no entry names a method the service lacks.
func TestMethodsTable(t *testing.T) {
	all := map[string]bool{}
	for _, m := range kvpb.KV_ServiceDesc.Methods {
		all["/"+kvpb.KV_ServiceDesc.ServiceName+"/"+m.MethodName] = true
	}
	for _, s := range kvpb.KV_ServiceDesc.Streams {
		all["/"+kvpb.KV_ServiceDesc.ServiceName+"/"+s.StreamName] = true
	}
	for m := range all {
		if _, ok := methods[m]; !ok {
			t.Errorf("%s is not in the methods table", m)
		}
	}
	for m := range methods {
		if !all[m] {
			t.Errorf("the methods table names %s, which KV lacks", m)
		}
	}
	if need("/grapevine.v1.KV/Future") != accessWrite {
		t.Error("an unknown method does not need a write token")
	}
}

// TestTokens: with tokens configured every KV call needs a valid one, a
// read token only reads, a namespace-scoped token reaches only its
// namespaces (the request's namespace field, watches included), health
// and reflection stay public, and refusals are counted.
func TestTokens(t *testing.T) {
	tokens := tokenFile(t, "wtok write\nrtok read\nttok write tenant-*\n")
	s := serve(t, newNode(t), tokens)
	kv := s.kv
	with := func(token string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	}
	put := func(ctx context.Context, ns string) error {
		_, err := kv.Put(ctx, &kvpb.PutRequest{Namespace: ns, Key: []byte("k"), Value: []byte("v")})
		return err
	}
	get := func(ctx context.Context, ns string) error {
		_, err := kv.Get(ctx, &kvpb.GetRequest{Namespace: ns, Key: []byte("k")})
		return err
	}
	watch := func(ctx context.Context, ns string) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		w, err := kv.Watch(ctx, &kvpb.WatchRequest{Namespace: ns})
		if err != nil {
			return err
		}
		// An open watch sends its headers; a refused one ends at once.
		if md, err := w.Header(); err == nil && len(md.Get(PeerHeader)) == 1 {
			return nil
		}
		_, err = w.Recv()
		return err
	}
	refused := func(code codes.Code) float64 {
		return testutil.ToFloat64(s.srv.refusals.WithLabelValues(code.String()))
	}

	wantCode(t, "no token", put(context.Background(), ""), codes.Unauthenticated, apitype.CodeUnauthorized)
	wantCode(t, "unknown token", get(with("nope"), ""), codes.Unauthenticated, apitype.CodeUnauthorized)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Basic d3Rvaw==")
	wantCode(t, "not a bearer token", get(ctx, ""), codes.Unauthenticated, apitype.CodeUnauthorized)
	wantCode(t, "watch without a token", watch(context.Background(), ""), codes.Unauthenticated, apitype.CodeUnauthorized)
	if got := refused(codes.Unauthenticated); got != 4 {
		t.Errorf("Unauthenticated refusals counted: %v, want 4", got)
	}

	if err := put(with("wtok"), ""); err != nil {
		t.Fatalf("write token put: %v", err)
	}
	if err := get(with("rtok"), ""); err != nil {
		t.Errorf("read token get: %v", err)
	}
	if err := watch(with("rtok"), ""); err != nil {
		t.Errorf("read token watch: %v", err)
	}
	if _, err := kv.Status(with("rtok"), &kvpb.StatusRequest{}); err != nil {
		t.Errorf("read token status: %v", err)
	}
	wantCode(t, "read token put", put(with("rtok"), ""), codes.PermissionDenied, apitype.CodeForbidden)
	_, err := kv.Txn(with("rtok"), &kvpb.TxnRequest{Ops: []*kvpb.TxnOp{{Kind: kvpb.TxnOp_INCR, Key: []byte("c"), By: 1}}})
	wantCode(t, "read token txn", err, codes.PermissionDenied, apitype.CodeForbidden)

	if err := put(with("ttok"), "tenant-a"); err != nil {
		t.Errorf("scoped token in its namespace: %v", err)
	}
	wantCode(t, "scoped token, default namespace", put(with("ttok"), ""), codes.PermissionDenied, apitype.CodeForbidden)
	wantCode(t, "scoped token reads another namespace", get(with("ttok"), "other"), codes.PermissionDenied, apitype.CodeForbidden)
	wantCode(t, "scoped token watches another namespace", watch(with("ttok"), "other"), codes.PermissionDenied, apitype.CodeForbidden)
	if got := refused(codes.PermissionDenied); got != 5 {
		t.Errorf("PermissionDenied refusals counted: %v, want 5", got)
	}
	if v, err := s.node.Get(context.Background(), "", []byte("k")); err != nil || string(v.Data) != "v" {
		t.Errorf("after the refusals the key holds %q, %v", v.Data, err)
	}

	// Health and reflection need no token.
	h, err := healthpb.NewHealthClient(s.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health without a token: %v, %v", h, err)
	}
	if svcs := listServices(t, s.conn); len(svcs) == 0 {
		t.Error("reflection without a token listed nothing")
	}
}
