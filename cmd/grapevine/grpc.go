package main

import (
	"context"
	"log/slog"
	"net"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/api/grpcapi"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/urfave/cli/v2"
)

// grpcFlag serves the gRPC API (api/grpcapi); off unless given.
var grpcFlag = &cli.StringFlag{Name: "grpc", EnvVars: []string{"GRAPEVINE_GRPC_LISTEN"},
	Usage: "also serve the gRPC API (grapevine.v1.KV, health, reflection) on `HOST:PORT`, e.g. " + grpcapi.DefaultAddr + " (off unless given; beyond loopback it needs --api-token-file or --insecure-api, like --api)"}

// listenGRPC binds --grpc's listener (nil without --grpc): see
// listenDoor. gRPC is served in plaintext only, so tokens beyond loopback
// are warned about.
func listenGRPC(c *cli.Context, log *slog.Logger, tokens *api.Tokens) (net.Listener, error) {
	addr := c.String(grpcFlag.Name)
	if tokens != nil && addr != "" && !api.Loopback(addr) {
		log.Warn("API tokens over the gRPC API beyond loopback cross the network in the clear (it serves plaintext only): reach it through a TLS tunnel or proxy", "grpc", addr)
	}
	return listenDoor(c, grpcFlag.Name, "the gRPC API", "clients then send the metadata authorization: Bearer <token>", tokens != nil, log)
}

// grpcDoor returns the Serve option that serves the gRPC API of n on ln
// beside the HTTP API (none when ln is nil).
func grpcDoor(ln net.Listener, n *node.Node, maxValue int, tokens *api.Tokens, log *slog.Logger) []api.ServeOption {
	if ln == nil {
		return nil
	}
	srv := grpcapi.New(n, grpcapi.Config{MaxValueSize: maxValue, Tokens: tokens, Logger: log})
	return []api.ServeOption{api.WithDoor("gRPC", func(ctx context.Context) error { return srv.Serve(ctx, ln) })}
}
