package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/grapevine-kv/grapevine/node"
)

// AddrFile is the file in the data directory where a running daemon
// writes its API address, so a CLI on the same machine finds it.
const AddrFile = "api"

// ReadAddrFile returns the API address a daemon wrote in dataDir: host:port,
// or https://host:port when it serves TLS. If the file is there but the
// daemon that wrote it is gone (it did not stop cleanly: kill -9, a crash),
// it returns the address with an error wrapping ErrStaleAddrFile.
func ReadAddrFile(dataDir string) (string, error) {
	path := filepath.Join(dataDir, AddrFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	addr := strings.TrimSpace(string(b))
	// A directory without a lock file was served by Serve alone (an
	// embedding program): nothing tells, so the address is trusted.
	lock := filepath.Join(dataDir, LockFile)
	if _, err := os.Stat(lock); err == nil && !dirLocked(lock) {
		return addr, fmt.Errorf("%w: %s (%s) was left by a daemon that did not stop cleanly, and no daemon is running on %s; start one with `grapevine daemon --data %s`, or pass --api HOST:PORT",
			ErrStaleAddrFile, path, addr, dataDir, dataDir)
	}
	return addr, nil
}

// shutdownGrace bounds how long Serve waits, once ctx is done, for
// requests in flight to finish; watches and other long requests are
// cancelled at once, so only ordinary requests ever use it.
const shutdownGrace = 500 * time.Millisecond

// Serve starts n, serves its HTTP API on listen (host:port; port 0 picks a
// free one), writes the address to <dataDir>/api, and blocks until ctx is
// done; then it shuts the server down, closes n and removes the file.
// ready, if not nil, is called with the bound address once serving; opts
// change the server (e.g. TestHooks.ServeOptions, WithTokens, WithTLS,
// WithDoor).
func Serve(ctx context.Context, n *node.Node, listen, dataDir string, maxValue int, log *slog.Logger, ready func(addr string), opts ...ServeOption) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		_ = n.Close()
		return fmt.Errorf("api: listen on %s: %w", listen, err)
	}
	if err := n.Start(ctx); err != nil {
		_ = ln.Close()
		_ = n.Close()
		return err
	}
	addr := ln.Addr().String()
	handler := NewServer(n, maxValue, log)
	for _, o := range opts {
		o(handler)
	}
	url, recorded := "http://"+addr, addr
	if handler.tls != nil {
		ln = tls.NewListener(ln, handler.tls)
		url = "https://" + addr
		recorded = url
	}
	// The server's own complaints (TLS handshakes that failed, say) go to
	// the daemon's log at debug level: they are the client's problem.
	// Every request's context ends when shutdown begins, so open watches
	// end at once instead of holding the shutdown.
	base, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context { return base }}
	addrPath := filepath.Join(dataDir, AddrFile)
	if dataDir != "" {
		if err := writeAddrFile(dataDir, recorded); err != nil {
			log.Warn("cannot write the API address file", "path", addrPath, "err", err)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	stopDoors := handler.runDoors(ctx)
	log.Info("HTTP API listening", "addr", url, "tokens", handler.tokens != nil)
	if ready != nil {
		ready(addr)
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("shutting down: closing open requests and watches")
	cancelRequests()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("requests still open at shutdown were cut off", "err", err)
		_ = srv.Close()
	}
	doorErr := stopDoors()
	if dataDir != "" {
		_ = os.Remove(addrPath)
	}
	closeErr := n.Close()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, doorErr, closeErr)
}
