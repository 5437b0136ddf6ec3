package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/api/grpcapi/kvpb"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// DefaultAddr is the address the daemon's --grpc flag suggests (it is off
// unless given).
const DefaultAddr = "127.0.0.1:4102"

// msgOverhead is what a request carries beside its value or a
// transaction's keys and values: a key (node.MaxKeyLen), a namespace,
// field tags, and per op of a transaction a few numbers.
const msgOverhead = 64<<10 + node.MaxTxnOps*64

// shutdownGrace bounds how long Serve waits, once ctx is done, for calls
// in flight to finish before it cuts them off; watches end at once.
const shutdownGrace = 500 * time.Millisecond

// Config is what a Server needs beside its node.
type Config struct {
	// MaxValueSize is the node's value limit (the daemon's
	// --max-value-size): the largest message accepted is this (or a
	// transaction's limit, node.MaxTxnBytes, if larger) plus msgOverhead;
	// the node checks the value itself.
	MaxValueSize int
	// Tokens, when not nil, are the API tokens every call but health and
	// reflection needs (the daemon's --api-token-file). Default: none.
	Tokens *api.Tokens
	// Logger gets refusals and the server's start and stop. Default:
	// slog.Default().
	Logger *slog.Logger
}

// Server is the gRPC API of one node. Create it with New, run it with
// Serve.
type Server struct {
	kvpb.UnimplementedKVServer
	node     *node.Node
	cfg      Config
	log      *slog.Logger
	refusals *prometheus.CounterVec // calls refused for their token, by code
	grpc     *grpc.Server
	health   *health.Server
	// calls is the base of every call's context: cancelled when Serve's
	// ctx is done, so that open watches end at once.
	calls       context.Context
	cancelCalls context.CancelFunc
}

// New returns the gRPC API of n. It registers its refusal counter
// (grapevine_grpc_refusals_total) on n.Metrics().
func New(n *node.Node, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{node: n, cfg: cfg, log: cfg.Logger, health: health.NewServer()}
	s.calls, s.cancelCalls = context.WithCancel(context.Background())
	s.refusals = registerRefusals(n.Metrics())
	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(MaxMessageSize(cfg.MaxValueSize)),
		grpc.ChainUnaryInterceptor(s.unaryAuth),
		grpc.ChainStreamInterceptor(s.streamAuth),
	)
	kvpb.RegisterKVServer(s.grpc, s)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	return s
}

// MaxMessageSize is the largest request message the server accepts for a
// value limit of maxValue bytes: room for one value of maxValue bytes, or
// a transaction at its limits, with their keys and fields.
func MaxMessageSize(maxValue int) int {
	return max(maxValue, node.MaxTxnBytes) + msgOverhead
}

// registerRefusals registers the refusal counter on reg, or returns the
// one already there (a second server on the same node).
func registerRefusals(reg *prometheus.Registry) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grapevine_grpc_refusals_total",
		Help: "gRPC calls refused for their API token, by code: Unauthenticated (none or unknown), PermissionDenied (not allowed).",
	}, []string{"code"})
	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(c); errors.As(err, &are) {
		return are.ExistingCollector.(*prometheus.CounterVec)
	}
	return c
}

// Serve serves the API on ln until ctx is done, then reports NOT_SERVING
// through the health service, ends open watches, lets other calls finish
// for up to shutdownGrace and closes ln. It returns nil after a shutdown
// through ctx, or the error that stopped it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(kvpb.KV_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	errc := make(chan error, 1)
	go func() { errc <- s.grpc.Serve(ln) }()
	s.log.Info("gRPC API listening", "addr", ln.Addr().String(), "tokens", s.cfg.Tokens != nil)
	select {
	case err := <-errc:
		s.cancelCalls()
		return err
	case <-ctx.Done():
	}
	s.health.Shutdown() // NOT_SERVING, told to every health watcher
	s.cancelCalls()
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	t := time.NewTimer(shutdownGrace)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		s.grpc.Stop() // health watches and slow calls are cut off
		<-stopped
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// callContext returns ctx, cancelled also when the shutdown begins.
func (s *Server) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.calls, cancel)
	return ctx, func() { stop(); cancel() }
}
