// Package kvpb is the generated Go code of grapevine's gRPC API, the
// service grapevine.v1.KV of api/grpcapi/proto/grapevine/v1/kv.proto:
// messages (protoc-gen-go) and the client and server stubs
// (protoc-gen-go-grpc). A Go client imports only this package and
// google.golang.org/grpc: none of the server.
//
// Do not edit the *.pb.go files: change the .proto and run make generate
// (make test fails when they differ from what it generates).
package kvpb
