// Package grpcapi serves grapevine's gRPC API, the service grapevine.v1.KV
// (proto/grapevine/v1/kv.proto, generated into kvpb), beside the HTTP API:
// the daemon's --grpc HOST:PORT. Every call goes to the same node.Node
// methods as the HTTP API: there is no second code path for semantics.
//
// Beside KV it serves the standard health service (grpc.health.v1.Health:
// SERVING while the node runs, NOT_SERVING from the start of the shutdown)
// and server reflection (for grpcurl and similar tools).
//
// Errors are gRPC status codes mapped from the node's sentinels by one
// table (errors.go), with a google.rpc.ErrorInfo detail whose reason is
// the HTTP API's error code. API tokens (api.Tokens) are checked by
// interceptors (auth.go) from the metadata "authorization: Bearer TOKEN",
// against the namespace field of each request; the health and reflection
// services are public.
package grpcapi
