package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/api/resp"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/urfave/cli/v2"
)

// respListen binds --resp (nil when it is not given), before the node
// starts, so that a bad or busy address is refused up front. An address
// needs a host: ":6380" would listen on every interface.
func respListen(c *cli.Context, haveTokens bool, log *slog.Logger) (net.Listener, error) {
	listen := c.String("resp")
	if listen == "" {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("--resp wants HOST:PORT with a host, such as 127.0.0.1:6380 (this machine only), not %q", listen)}
	}
	risky, err := api.CheckExposure(listen, haveTokens, c.Bool("insecure-api"))
	if errors.Is(err, api.ErrExposed) {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("refusing to serve the Redis protocol on %s without API tokens: it is not a loopback address, so anyone who can reach it could read and write every key. "+
			"Give tokens with --api-token-file FILE (clients then send AUTH <token>), listen on 127.0.0.1, or pass --insecure-api to accept the risk", listen)}
	}
	if risky {
		log.Warn("INSECURE: the Redis protocol listens beyond loopback without API tokens (--insecure-api): anyone who can reach it can read, write and delete every key; use --api-token-file", "resp", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("--resp %s: the address is already in use by another process (a Redis, another grapevine?); pick another port", listen)}
	}
	if err != nil {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("--resp %s: %v", listen, err)}
	}
	return ln, nil
}

// respDoor returns the Serve option that serves the Redis protocol on ln.
func respDoor(c *cli.Context, n *node.Node, ln net.Listener, tokens *api.Tokens, log *slog.Logger) (api.ServeOption, error) {
	srv, err := resp.New(n, resp.Config{
		Databases: splitList(c.StringSlice("resp-databases")),
		Tokens:    tokens,
		Version:   versionString(),
		Logger:    log,
	})
	if err != nil {
		return nil, &exitError{code: 2, msg: "--resp-databases: " + err.Error()}
	}
	return api.WithDoor("RESP", func(ctx context.Context) error {
		log.Info("Redis protocol (RESP) listening", "addr", ln.Addr().String(), "databases", c.StringSlice("resp-databases"))
		return srv.Serve(ctx, ln)
	}), nil
}
