package main

import (
	"context"
	"log/slog"
	"net"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/api/resp"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/urfave/cli/v2"
)

// respListen binds --resp (nil when it is not given): see listenDoor.
func respListen(c *cli.Context, haveTokens bool, log *slog.Logger) (net.Listener, error) {
	return listenDoor(c, "resp", "the Redis protocol", "clients then send AUTH <token>", haveTokens, log)
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
