package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/peer"
	"github.com/urfave/cli/v2"
)

// apiSecurity returns the Serve options of the daemon's API token and TLS
// flags, and the tokens (nil without --api-token-file). It refuses an API
// beyond loopback without tokens unless --insecure-api is given. Its
// errors never quote a token.
func apiSecurity(c *cli.Context, log *slog.Logger) ([]api.ServeOption, *api.Tokens, error) {
	var opts []api.ServeOption
	var tokens *api.Tokens
	if file := c.String("api-token-file"); file != "" {
		var err error
		if tokens, err = api.LoadTokens(file); err != nil {
			return nil, nil, &exitError{code: 2, msg: "--api-token-file: " + err.Error()}
		}
		if fi, err := os.Stat(file); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the API token file is readable by other users; chmod 600 it", "path", file, "mode", fi.Mode().Perm().String())
		}
		opts = append(opts, api.WithTokens(tokens))
	}
	listen := c.String("api")
	risky, err := api.CheckExposure(listen, tokens != nil, c.Bool("insecure-api"))
	if errors.Is(err, api.ErrExposed) {
		return nil, nil, &exitError{code: 2, msg: fmt.Sprintf("refusing to serve the HTTP API on %s without API tokens: it is not a loopback address, so anyone who can reach it could read and write every key. "+
			"Give tokens with --api-token-file FILE, listen on 127.0.0.1, or pass --insecure-api to accept the risk", listen)}
	}
	if risky {
		log.Warn("INSECURE: the HTTP API listens beyond loopback without API tokens (--insecure-api): anyone who can reach it can read, write and delete every key; use --api-token-file", "api", listen)
	}
	cert, key := c.String("api-tls-cert"), c.String("api-tls-key")
	switch {
	case cert != "" && key != "":
		cfg, err := api.LoadTLS(cert, key)
		if err != nil {
			return nil, nil, &exitError{code: 2, msg: "--api-tls-cert/--api-tls-key: " + err.Error()}
		}
		opts = append(opts, api.WithTLS(cfg))
	case cert != "" || key != "":
		return nil, nil, &exitError{code: 2, msg: "--api-tls-cert and --api-tls-key go together: give both files, or neither"}
	}
	if tokens != nil && cert == "" && !api.Loopback(listen) {
		log.Warn("API tokens over plain HTTP beyond loopback cross the network in the clear; serve HTTPS with --api-tls-cert and --api-tls-key", "api", listen)
	}
	return opts, tokens, nil
}

// reloadOnHUP re-reads the daemon's trust files on every SIGHUP — the peer
// allowlist (p) and the API tokens (nil when none are configured) — until
// ctx is done or stop is called. A file that does not parse keeps what was
// in force, and the error is logged. SIGHUP never stops the daemon.
func reloadOnHUP(ctx context.Context, log *slog.Logger, p *peer.Peer, tokens *api.Tokens) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the allowlist and the API tokens")
				_ = p.ReloadAllowlist() // logs its own error, keeps the old list
				if tokens == nil {
					continue
				}
				if err := tokens.Reload(); err != nil {
					log.Error("API tokens not reloaded; the previous ones stay", "err", err)
				} else {
					log.Info("API tokens reloaded", "tokens", tokens.Len())
				}
			}
		}
	})
	return func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
	}
}
