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
// or https://host:port when it serves TLS.
func ReadAddrFile(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, AddrFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Serve starts n, serves its HTTP API on listen (host:port; port 0 picks a
// free one), writes the address to <dataDir>/api, and blocks until ctx is
// done; then it shuts the server down, closes n and removes the file.
// ready, if not nil, is called with the bound address once serving; opts
// change the server (e.g. TestHooks.ServeOptions, WithTokens, WithTLS).
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
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	addrPath := filepath.Join(dataDir, AddrFile)
	if dataDir != "" {
		if err := os.WriteFile(addrPath, []byte(recorded+"\n"), 0o644); err != nil {
			log.Warn("cannot write the API address file", "path", addrPath, "err", err)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("HTTP API listening", "addr", url, "tokens", handler.tokens != nil)
	if ready != nil {
		ready(addr)
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if dataDir != "" {
		_ = os.Remove(addrPath)
	}
	closeErr := n.Close()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, closeErr)
}
