package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/urfave/cli/v2"
)

// listenDoor binds the listener of a door's flag (nil when the flag is not
// given), before the node starts, so that a bad or busy address is refused
// up front: exit 2 for an address without a host (":6380" would listen on
// every interface) or one beyond loopback without API tokens (unless
// --insecure-api), exit 1 for an address in use. what names the door in
// messages ("the Redis protocol"), auth says how its clients send a token.
func listenDoor(c *cli.Context, flag, what, auth string, haveTokens bool, log *slog.Logger) (net.Listener, error) {
	addr := c.String(flag)
	if addr == "" {
		return nil, nil
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || host == "" {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("--%s wants HOST:PORT with a host, such as 127.0.0.1:%s (this machine only), not %q", flag, portOf(addr), addr)}
	}
	risky, err := api.CheckExposure(addr, haveTokens, c.Bool("insecure-api"))
	if errors.Is(err, api.ErrExposed) {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("refusing to serve %s on %s without API tokens: it is not a loopback address, so anyone who can reach it could read and write every key. "+
			"Give tokens with --api-token-file FILE (%s), listen on 127.0.0.1, or pass --insecure-api to accept the risk", what, addr, auth)}
	}
	if risky {
		log.Warn("INSECURE: "+what+" listens beyond loopback without API tokens (--insecure-api): anyone who can reach it can read, write and delete every key; use --api-token-file", flag, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("--%s %s: the address is already in use by another process; pick another port", flag, addr)}
	}
	if err != nil {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("--%s %s: %v", flag, addr, err)}
	}
	return ln, nil
}

// portOf returns addr's port, or a placeholder.
func portOf(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err == nil && port != "" {
		return port
	}
	return "PORT"
}
