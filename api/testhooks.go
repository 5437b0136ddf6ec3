package api

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/node"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

// TestHookPrefix is the path prefix of the test-only endpoints.
const TestHookPrefix = "/v1/test/"

// redialTimeout bounds POST /v1/test/reconnect.
const redialTimeout = 20 * time.Second

// ServeOption changes the server Serve builds.
type ServeOption func(*Server)

// TestHooks are test-only endpoints for fault injection (the chaos suite,
// internal/chaos): they cut a peer off from others through its connection
// gater and skew its wall clock. A daemon serves them only when started with
// --test-hooks; otherwise every /v1/test/ path answers 404 like any unknown
// endpoint. With API tokens, every hook needs a write token. Never enable
// them on a peer anyone else can reach. Like every endpoint, they answer
// 503 unavailable once the node is closed.
//
//	POST /v1/test/block?peer=ID[,ID...]    refuse and close connections with the peers
//	POST /v1/test/unblock?peer=ID[,ID...]  allow them again (all=true: everyone, and end isolation)
//	POST /v1/test/isolate?on=BOOL          refuse every peer / stop refusing
//	POST /v1/test/reconnect                dial remembered and bootstrap peers now
//	POST /v1/test/clock?skew=DURATION      wall clock = real time + DURATION (e.g. -90s, 5m)
//	GET  /v1/test/state                    {"blocked": [...], "isolated": BOOL, "skew": "..."}
//
// Safe for concurrent use.
type TestHooks struct {
	skew atomic.Int64 // nanoseconds added to the wall clock
}

// TestHookState is the answer of GET /v1/test/state.
type TestHookState struct {
	Blocked  []string `json:"blocked"`
	Isolated bool     `json:"isolated"`
	Skew     string   `json:"skew"`
}

// NewTestHooks returns hooks with no clock skew.
func NewTestHooks() *TestHooks { return &TestHooks{} }

// Wall is a wall clock that follows POST /v1/test/clock: pass it as
// node.Config.Wall.
func (h *TestHooks) Wall() time.Time { return time.Now().Add(h.Skew()) }

// Skew returns the current clock skew.
func (h *TestHooks) Skew() time.Duration { return time.Duration(h.skew.Load()) }

// SetSkew sets the clock skew.
func (h *TestHooks) SetSkew(d time.Duration) { h.skew.Store(int64(d)) }

// ServeOptions returns the Serve options that register the endpoints; none
// for nil hooks, so a daemon can pass them unconditionally.
func (h *TestHooks) ServeOptions() []ServeOption {
	if h == nil {
		return nil
	}
	return []ServeOption{func(s *Server) { h.register(s) }}
}

func (h *TestHooks) register(s *Server) {
	for _, rt := range h.routes(s.node) {
		s.register(rt)
	}
}

// routes returns the hooks' endpoints, as the server's own are listed in
// routes.
func (h *TestHooks) routes(n *node.Node) []route {
	post := func(name string, f func(r *http.Request) (any, error)) route {
		return route{TestHookPrefix + name, func(_ *Server, w http.ResponseWriter, r *http.Request) error {
			v, err := f(r)
			if err != nil {
				return err
			}
			if v == nil {
				v = h.state(n)
			}
			return writeJSON(w, v)
		}, []endpoint{{http.MethodPost, TestHookPrefix + name, accessWrite}}, true}
	}
	return []route{
		post("block", func(r *http.Request) (any, error) {
			ids, err := peerIDs(r.URL.Query().Get("peer"))
			if err != nil {
				return nil, err
			}
			n.Peer().Block(ids...)
			return nil, nil
		}),
		post("unblock", func(r *http.Request) (any, error) {
			q := r.URL.Query()
			all, err := boolParam(q.Get("all"))
			if err != nil {
				return nil, err
			}
			if all {
				n.Peer().UnblockAll()
				return nil, nil
			}
			ids, err := peerIDs(q.Get("peer"))
			if err != nil {
				return nil, err
			}
			n.Peer().Unblock(ids...)
			return nil, nil
		}),
		post("isolate", func(r *http.Request) (any, error) {
			on, err := boolParam(r.URL.Query().Get("on"))
			if err != nil {
				return nil, err
			}
			n.Peer().Isolate(on)
			return nil, nil
		}),
		post("reconnect", func(r *http.Request) (any, error) {
			ctx, cancel := context.WithTimeout(r.Context(), redialTimeout)
			defer cancel()
			return map[string]int{"dialled": n.Peer().Redial(ctx)}, nil
		}),
		post("clock", func(r *http.Request) (any, error) {
			v := r.URL.Query().Get("skew")
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "skew must be a duration such as -90s or 5m, got %q", v)
			}
			h.SetSkew(d)
			return nil, nil
		}),
		{TestHookPrefix + "state", func(_ *Server, w http.ResponseWriter, _ *http.Request) error {
			return writeJSON(w, h.state(n))
		}, []endpoint{{http.MethodGet, TestHookPrefix + "state", accessWrite}}, true},
	}
}

func (h *TestHooks) state(n *node.Node) TestHookState {
	st := TestHookState{Blocked: []string{}, Isolated: n.Peer().Isolated(), Skew: h.Skew().String()}
	for _, id := range n.Peer().Blocked() {
		st.Blocked = append(st.Blocked, id.String())
	}
	return st
}

// peerIDs parses a comma-separated list of peer IDs.
func peerIDs(s string) ([]libp2ppeer.ID, error) {
	var ids []libp2ppeer.ID
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		id, err := libp2ppeer.Decode(p)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "peer %q is not a peer ID: %v", p, err)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "name at least one peer: ?peer=ID[,ID...]")
	}
	return ids, nil
}
