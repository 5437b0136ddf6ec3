package resp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/redcon"
)

// Config configures a Server.
type Config struct {
	// Databases are the namespaces SELECT reaches by index. Default:
	// just node.DefaultNamespace (SELECT 0).
	Databases []string
	// Tokens, when not nil, are the API tokens AUTH checks (see the
	// package documentation). Default nil: no token needed.
	Tokens *api.Tokens
	// Version is the grapevine version INFO and HELLO report. Default "".
	Version string
	// Logger gets refusals and failures. Default: slog.Default().
	Logger *slog.Logger
}

// Server answers RESP clients with a node. Create it with New, run it with
// Serve.
type Server struct {
	node     *node.Node
	cfg      Config
	log      *slog.Logger
	started  time.Time
	cursors  *cursors
	refusals *prometheus.CounterVec
	nextID   int64
	mu       sync.Mutex // guards nextID
}

// New returns a server of n. It registers its metrics on n.Metrics(), so
// make one Server per node.
func New(n *node.Node, cfg Config) (*Server, error) {
	if len(cfg.Databases) == 0 {
		cfg.Databases = []string{node.DefaultNamespace}
	}
	for i, db := range cfg.Databases {
		if err := validNamespace(db); err != nil {
			return nil, fmt.Errorf("resp: database %d: %w", i, err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{node: n, cfg: cfg, log: cfg.Logger, started: time.Now(), cursors: newCursors(maxCursors)}
	s.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grapevine_resp_refusals_total",
		Help: "RESP commands refused for their API token, by reply: NOAUTH (no AUTH yet), WRONGPASS (AUTH with an unknown token), NOPERM (not allowed).",
	}, []string{"code"})
	if err := n.Metrics().Register(s.refusals); err != nil {
		return nil, fmt.Errorf("resp: registering metrics: %w", err)
	}
	return s, nil
}

// Serve answers the connections of ln until ctx is done, then closes ln
// and every connection and returns once their commands in flight are
// answered. It returns nil after ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var conns sync.WaitGroup
	rs := redcon.NewServerNetwork("tcp", ln.Addr().String(),
		func(c redcon.Conn, cmd redcon.Command) { s.handle(ctx, c, cmd) },
		func(c redcon.Conn) bool {
			conns.Add(1)
			c.SetContext(s.newSession(c.RemoteAddr()))
			return true
		},
		func(redcon.Conn, error) { conns.Done() })
	rs.AcceptError = func(err error) { s.log.Debug("RESP accept failed", "err", err) }
	errc := make(chan error, 1)
	go func() { errc <- rs.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
		// Closing ln (not rs.Close, which fails before rs.Serve has
		// started) ends rs.Serve, which then closes every connection.
		_ = ln.Close()
		err = <-errc
	case err = <-errc:
	}
	conns.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// newSession returns the state of a new connection.
func (s *Server) newSession(remote string) *session {
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	s.mu.Unlock()
	return &session{srv: s, id: id, remote: remote, ns: s.cfg.Databases[0]}
}

// handle answers cmd and the rest of its pipeline (see pipeline.go).
func (s *Server) handle(ctx context.Context, c redcon.Conn, cmd redcon.Command) {
	sess, _ := c.Context().(*session)
	cmds := append([]redcon.Command{cmd}, c.ReadPipeline()...)
	sess.pipeline(ctx, c, cmds)
}
