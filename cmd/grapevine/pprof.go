package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/urfave/cli/v2"
)

// pprofFlag serves Go's profiler, for finding where a peer spends its time.
var pprofFlag = &cli.StringFlag{Name: "pprof", EnvVars: []string{"GRAPEVINE_PPROF"},
	Usage: "serve Go's profiler (net/http/pprof: /debug/pprof/) on a loopback `HOST:PORT`, e.g. 127.0.0.1:6060, to see where the peer spends its time (`go tool pprof http://127.0.0.1:6060/debug/pprof/profile`); off unless given, never beyond loopback (a heap profile holds values)"}

// pprofDoor returns the Serve options that serve the profiler on --pprof
// (none without it). Only a loopback address is accepted: the profiler
// needs no token, and a heap profile holds keys and values.
func pprofDoor(c *cli.Context, log *slog.Logger) ([]api.ServeOption, error) {
	addr := c.String(pprofFlag.Name)
	if addr == "" {
		return nil, nil
	}
	if !api.Loopback(addr) {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("--pprof %s: the profiler serves only on a loopback address (127.0.0.1:PORT): it needs no token and a heap profile holds keys and values", addr)}
	}
	ln, err := listenDoor(c, pprofFlag.Name, "the profiler", "", false, log)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return []api.ServeOption{api.WithDoor("pprof", func(ctx context.Context) error {
		log.Info("profiler listening", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
		go func() {
			<-ctx.Done()
			_ = srv.Close() // a profile in progress is cut short
		}()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})}, nil
}
