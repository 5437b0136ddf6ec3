package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/api/grpcapi"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/urfave/cli/v2"
)

// grpcFlag serves the gRPC API (api/grpcapi); off unless given.
var grpcFlag = &cli.StringFlag{Name: "grpc", EnvVars: []string{"GRAPEVINE_GRPC_LISTEN"},
	Usage: "also serve the gRPC API (grapevine.v1.KV, health, reflection) on `HOST:PORT`, e.g. " + grpcapi.DefaultAddr + " (off unless given; beyond loopback it needs --api-token-file or --insecure-api, like --api)"}

// listenGRPC binds --grpc's listener (nil without --grpc), before the node
// starts, so a port in use is refused up front (exit 1). Beyond loopback
// without tokens it is refused (exit 2) unless --insecure-api.
func listenGRPC(c *cli.Context, log *slog.Logger, tokens *api.Tokens) (net.Listener, error) {
	addr := c.String(grpcFlag.Name)
	if addr == "" {
		return nil, nil
	}
	risky, err := api.CheckExposure(addr, tokens != nil, c.Bool("insecure-api"))
	if errors.Is(err, api.ErrExposed) {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("refusing to serve the gRPC API on %s without API tokens: it is not a loopback address, so anyone who can reach it could read and write every key. "+
			"Give tokens with --api-token-file FILE, listen on 127.0.0.1, or pass --insecure-api to accept the risk", addr)}
	}
	if risky {
		log.Warn("INSECURE: the gRPC API listens beyond loopback without API tokens (--insecure-api): anyone who can reach it can read, write and delete every key; use --api-token-file", "grpc", addr)
	}
	if tokens != nil && !api.Loopback(addr) {
		log.Warn("API tokens over the gRPC API beyond loopback cross the network in the clear (it serves plaintext only): reach it through a TLS tunnel or proxy", "grpc", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("--grpc %s: the address is already in use by another process", addr)}
	}
	if err != nil {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("--grpc %s: %v", addr, err)}
	}
	return ln, nil
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
