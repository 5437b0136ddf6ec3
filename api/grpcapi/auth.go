package grpcapi

import (
	"context"
	"fmt"
	"strings"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/grpcapi/kvpb"
	"github.com/grapevine-kv/grapevine/node"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// access is what a method needs of the caller's API token. The zero value
// is the most a token can grant, so a method added without a thought needs
// a write token.
type access uint8

const (
	accessWrite  access = iota // a write token for the request's namespace
	accessRead                 // a token that may read the request's namespace
	accessPublic               // no token at all
)

// methods says what each KV method needs; a test checks that every method
// of kvpb.KV_ServiceDesc is here.
var methods = map[string]access{
	kvpb.KV_Put_FullMethodName:          accessWrite,
	kvpb.KV_Get_FullMethodName:          accessRead,
	kvpb.KV_Delete_FullMethodName:       accessWrite,
	kvpb.KV_List_FullMethodName:         accessRead,
	kvpb.KV_Incr_FullMethodName:         accessWrite,
	kvpb.KV_Counter_FullMethodName:      accessRead,
	kvpb.KV_ResetCounter_FullMethodName: accessWrite,
	kvpb.KV_SetAdd_FullMethodName:       accessWrite,
	kvpb.KV_SetRemove_FullMethodName:    accessWrite,
	kvpb.KV_SetMembers_FullMethodName:   accessRead,
	kvpb.KV_Txn_FullMethodName:          accessWrite,
	kvpb.KV_Watch_FullMethodName:        accessRead,
	kvpb.KV_Status_FullMethodName:       accessRead,
	kvpb.KV_Peers_FullMethodName:        accessRead,
}

// publicServices need no token: health (for load balancers and
// orchestrators) and reflection (the schema, public in the source).
var publicServices = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

// need returns what method needs.
func need(method string) access {
	for _, p := range publicServices {
		if strings.HasPrefix(method, p) {
			return accessPublic
		}
	}
	return methods[method] // accessWrite for an unknown method
}

// namespaced is a request scoped to a namespace (every KV request but
// Status's and Peers').
type namespaced interface{ GetNamespace() string }

// authenticate checks the call's token: nil with no error when the server
// needs no tokens or the method is public, Unauthenticated when the token
// is missing or unknown.
func (s *Server) authenticate(ctx context.Context, method string) (*api.Grant, error) {
	if s.cfg.Tokens == nil || need(method) == accessPublic {
		return nil, nil
	}
	var h string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			h = v[0]
		}
	}
	if h == "" {
		return nil, s.refuse(ctx, method, codes.Unauthenticated, apitype.CodeUnauthorized, "this daemon needs an API token: send the metadata authorization: Bearer TOKEN (grpcurl: -H 'authorization: Bearer TOKEN')")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, s.refuse(ctx, method, codes.Unauthenticated, apitype.CodeUnauthorized, "the authorization metadata must be Bearer TOKEN")
	}
	g, ok := s.cfg.Tokens.Grant(strings.TrimSpace(token))
	if !ok {
		return nil, s.refuse(ctx, method, codes.Unauthenticated, apitype.CodeUnauthorized, "the API token is not valid on this daemon")
	}
	return &g, nil
}

// authorize checks that g may call method with req: PermissionDenied if
// not. g is nil when no token is needed.
func (s *Server) authorize(ctx context.Context, method string, g *api.Grant, req any) error {
	if g == nil {
		return nil
	}
	a := need(method)
	r, ok := req.(namespaced)
	if !ok { // Status, Peers: any valid token reads them
		if a == accessWrite && !g.Writer() {
			return s.refuse(ctx, method, codes.PermissionDenied, apitype.CodeForbidden, "the token may only read; "+method+" needs a write token")
		}
		return nil
	}
	ns := r.GetNamespace()
	if ns == "" {
		ns = node.DefaultNamespace
	}
	if a == accessWrite && !g.CanWrite(ns) {
		return s.refuse(ctx, method, codes.PermissionDenied, apitype.CodeForbidden, fmt.Sprintf("the token may not write namespace %q", ns))
	}
	if !g.CanRead(ns) {
		return s.refuse(ctx, method, codes.PermissionDenied, apitype.CodeForbidden, fmt.Sprintf("the token may not read namespace %q", ns))
	}
	return nil
}

// refuse counts and logs a refused call and returns its status. The log
// names the remote address, the method and the reason, never the token.
func (s *Server) refuse(ctx context.Context, method string, code codes.Code, reason, msg string) error {
	s.refusals.WithLabelValues(code.String()).Inc()
	remote := ""
	if p, ok := peer.FromContext(ctx); ok {
		remote = p.Addr.String()
	}
	s.log.Warn("gRPC call refused", "remote", remote, "method", method, "code", code.String(), "reason", msg)
	return errorf(code, reason, msg)
}

// unaryAuth checks the token of a unary call and its request's namespace.
func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	g, err := s.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, info.FullMethod, g, req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// streamAuth checks the token of a streaming call, and the namespace of
// each request it receives.
func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	g, err := s.authenticate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	if g == nil {
		return handler(srv, ss)
	}
	return handler(srv, &authStream{ServerStream: ss, s: s, method: info.FullMethod, grant: g})
}

// authStream authorizes each message received on a stream.
type authStream struct {
	grpc.ServerStream
	s      *Server
	method string
	grant  *api.Grant
}

// RecvMsg receives m and checks that the grant covers it.
func (a *authStream) RecvMsg(m any) error {
	if err := a.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return a.s.authorize(a.Context(), a.method, a.grant, m)
}
