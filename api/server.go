package api

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/gossip"
	"github.com/grapevine-kv/grapevine/node"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the HTTP handler of a node. Create it with NewServer.
type Server struct {
	node     *node.Node
	log      *slog.Logger
	maxValue int
	mux      *http.ServeMux
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec // grapevine_http_request_duration_seconds{route}
	refusals *prometheus.CounterVec   // requests refused for their token, by code
	scrape   http.Handler             // the Prometheus handler of the node's registry
	tokens   *Tokens                  // nil: no token needed (WithTokens)
	tls      *tls.Config              // nil: plain HTTP (WithTLS)
	doors    []door                   // served beside the HTTP API (WithDoor)
}

// NewServer returns the HTTP API of n. maxValue is the node's value limit
// (request bodies above it are refused with value_too_large).
func NewServer(n *node.Node, maxValue int, log *slog.Logger) *Server {
	s := &Server{node: n, log: log, maxValue: maxValue, mux: http.NewServeMux()}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grapevine_http_requests_total",
		Help: "HTTP API requests by route and status code.",
	}, []string{"route", "code"})
	s.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grapevine_http_refusals_total",
		Help: "HTTP API requests refused for their API token, by code: unauthorized (401: none or unknown), forbidden (403: not allowed).",
	}, []string{"code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "grapevine_http_request_duration_seconds",
		Help:    "HTTP API request duration by route (a watch counts until the client leaves).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5 ms to 16 s
	}, []string{"route"})
	n.Metrics().MustRegister(s.requests, s.refusals, s.latency)
	s.scrape = promhttp.HandlerFor(n.Metrics(), promhttp.HandlerOpts{})
	for _, rt := range routes {
		s.register(rt)
	}
	s.handle("/", func(w http.ResponseWriter, r *http.Request) error {
		if _, err := s.authenticate(w, r, false); err != nil {
			return err // the list of endpoints is for token holders
		}
		return errorf(http.StatusNotFound, apitype.CodeNotFound, "no such endpoint %s; the API has %s", r.URL.Path, paths(routes))
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(&servedByWriter{ResponseWriter: w}, r)
}

// statusWriter remembers the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer (to flush).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// register serves rt: with tokens configured, a request without a valid
// one gets 401 (but on a public route), one whose token may not do what
// the endpoint needs gets 403; a method the route does not list gets 405
// with an Allow header; once the node is closed, every request gets 503
// unavailable.
func (s *Server) register(rt route) {
	allowed := rt.methods()
	s.handle(rt.pattern, func(w http.ResponseWriter, r *http.Request) error {
		tok, err := s.authenticate(w, r, rt.public())
		if err != nil {
			return err
		}
		i := slices.IndexFunc(rt.endpoints, func(e endpoint) bool { return e.method == r.Method })
		if i < 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			return errorf(http.StatusMethodNotAllowed, apitype.CodeMethodNotAllowed, "%s takes %s, not %s", r.URL.Path, strings.Join(allowed, " or "), r.Method)
		}
		if err := s.authorize(r, rt, rt.endpoints[i], tok); err != nil {
			return err
		}
		if err := s.open(); err != nil {
			return err
		}
		return rt.handle(s, w, withToken(r, tok))
	})
}

// handle serves pattern with h, answering h's error as JSON and counting
// the request.
func (s *Server) handle(pattern string, h func(http.ResponseWriter, *http.Request) error) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		if err := h(sw, r); err != nil {
			s.writeError(sw, r, err)
		}
		s.requests.WithLabelValues(pattern, strconv.Itoa(sw.code)).Inc()
		s.latency.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
	})
}

// open returns node.ErrClosed once the node is closed, so that endpoints
// that do not otherwise ask the node for an error (status, peers, metrics,
// healthz) answer 503 like the others.
func (s *Server) open() error { return s.node.Err() }

// writeError answers err as a JSON apitype.Error (see errorTable). Server
// failures (5xx) are logged.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := apiError(err)
	if e.Status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", e.Status, "err", err)
	}
	if e.Code == apitype.CodePrecondition && e.Version != 0 {
		setVersion(w, crdt.Timestamp(e.Version)) // the current version, for the next attempt
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

func keyOf(r *http.Request) (string, error) {
	k := r.PathValue("key")
	if err := apitype.ValidKey(k); err != nil {
		return "", errorf(http.StatusBadRequest, apitype.CodeInvalidKey, "%v", err)
	}
	return k, nil
}

func (s *Server) kv(w http.ResponseWriter, r *http.Request) error {
	key, err := keyOf(r)
	if err != nil {
		return err
	}
	ns := r.URL.Query().Get("ns")
	switch r.Method {
	case http.MethodPut:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.maxValue)))
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errorf(http.StatusRequestEntityTooLarge, apitype.CodeValueTooLarge, "the value exceeds the limit of %d bytes", s.maxValue)
		}
		if err != nil {
			return errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "reading the body: %v", err)
		}
		opts, err := writeOptions(r, true)
		if err != nil {
			return err
		}
		v, err := s.node.PutWith(s.servedBy(w, r), ns, []byte(key), body, opts)
		if err != nil {
			return err
		}
		setVersion(w, v)
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodGet, http.MethodHead:
		v, err := s.node.Get(s.servedBy(w, r), ns, []byte(key))
		if errors.Is(err, node.ErrNotFound) {
			return s.notValue(r, ns, key, err)
		}
		if err != nil {
			return err
		}
		setVersion(w, v.Version)
		if !v.Expires.IsZero() {
			w.Header().Set(apitype.ExpiresHeader, v.Expires.Format(time.RFC3339Nano))
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(v.Data)))
		_, err = w.Write(v.Data)
		return err
	case http.MethodDelete:
		opts, err := writeOptions(r, false)
		if err != nil {
			return err
		}
		if err := s.node.DeleteWith(s.servedBy(w, r), ns, []byte(key), opts); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return errMethod
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := 1000
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > apitype.MaxListLimit {
			return errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "limit must be a number from 1 to %d, got %q", apitype.MaxListLimit, l)
		}
		limit = n
	}
	keysOnly, err := boolParam(q.Get("keys"))
	if err != nil {
		return err
	}
	page, err := s.node.List(s.servedBy(w, r), q.Get("ns"), node.ListOptions{Prefix: []byte(q.Get("prefix")), After: []byte(q.Get("after")), Limit: limit})
	if err != nil {
		return err
	}
	out := apitype.Page{Entries: make([]apitype.Entry, 0, len(page.Entries)), Next: string(page.Next)}
	for _, e := range page.Entries {
		ent := apitype.Entry{Key: string(e.Key), Type: e.Type.String()}
		if !keysOnly {
			ent.Value, ent.Version = e.Data, uint64(e.Version)
			typedEntry(&ent, e.Type, e.Counter, e.Members)
		}
		out.Entries = append(out.Entries, ent)
	}
	return writeJSON(w, out)
}

func boolParam(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "expected true or false, got %q", v)
	}
	return b, nil
}

func (s *Server) counter(w http.ResponseWriter, r *http.Request) error {
	key, err := keyOf(r)
	if err != nil {
		return err
	}
	ns := r.URL.Query().Get("ns")
	var v int64
	switch r.Method {
	case http.MethodPost:
		by := int64(1)
		if b := r.URL.Query().Get("by"); b != "" {
			if by, err = strconv.ParseInt(b, 10, 64); err != nil {
				return errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "by must be a whole number, got %q", b)
			}
		}
		v, err = s.node.Incr(s.servedBy(w, r), ns, []byte(key), by)
	case http.MethodGet:
		v, err = s.node.Counter(s.servedBy(w, r), ns, []byte(key))
	case http.MethodDelete:
		return s.resetCounter(w, r, key)
	default:
		return errMethod
	}
	if err != nil {
		return err
	}
	return writeJSON(w, apitype.Counter{Key: key, Value: v})
}

func (s *Server) peers(w http.ResponseWriter, r *http.Request) error {
	out := []apitype.PeerInfo{}
	for _, p := range s.node.Peers() {
		info := apitype.PeerInfo{ID: p.ID.String(), Addrs: []string{}, LatencyMS: float64(p.Latency) / float64(time.Millisecond), ConnectedSince: p.ConnectedSince}
		for _, a := range p.Addrs {
			info.Addrs = append(info.Addrs, a.String())
		}
		out = append(out, info)
	}
	return writeJSON(w, out)
}

func (s *Server) sync(w http.ResponseWriter, r *http.Request) error {
	var st gossip.RoundStats
	var err error
	if id := r.URL.Query().Get("peer"); id != "" {
		p, perr := libp2ppeer.Decode(id)
		if perr != nil {
			return errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "peer must be a peer ID (as `grapevine peers` prints), got %q", id)
		}
		st, err = s.node.SyncWith(r.Context(), p)
	} else {
		st, err = s.node.Sync(r.Context())
	}
	if err != nil && st.Peer != "" {
		return fmt.Errorf("sync with %s: %w", st.Peer, err)
	}
	if err != nil {
		return err
	}
	out := apitype.SyncResult{Peer: st.Peer.String(), Clean: st.Clean(), DurationMS: float64(st.Duration) / float64(time.Millisecond), Namespaces: []apitype.SyncNamespace{}}
	for _, ns := range st.Namespaces {
		out.Namespaces = append(out.Namespaces, apitype.SyncNamespace{Namespace: ns.Namespace, RoundTrips: ns.RoundTrips,
			BytesSent: ns.BytesSent, BytesReceived: ns.BytesReceived, StatesSent: ns.StatesSent,
			StatesReceived: ns.StatesReceived, Repaired: ns.Repaired})
	}
	return writeJSON(w, out)
}

// watch streams changes as JSON lines until the client goes away;
// since= first replays the changes after that index (see watchFrom). If
// the client falls too far behind, the stream ends with a dropped line;
// it should watch again with since= the last index.
func (s *Server) watch(w http.ResponseWriter, r *http.Request) error {
	events, err := s.watchFrom(w, r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return nil // the client went away
	}
	enc := json.NewEncoder(w)
	for ev := range events {
		out := apitype.Event{Key: string(ev.Key), Type: ev.Type.String(), Deleted: ev.Deleted, Expired: ev.Expired, Counter: ev.Counter, Reset: ev.Reset, Members: ev.Members, Index: ev.Index}
		if ev.Dropped {
			out = droppedEvent(ev.Index)
		} else if ev.Type == crdt.TypeRegister {
			out.Value, out.Version = ev.Value.Data, uint64(ev.Value.Version)
		}
		if err := enc.Encode(out); err != nil {
			return nil // the client went away
		}
		if len(events) == 0 {
			if err := rc.Flush(); err != nil {
				return nil
			}
		}
	}
	return nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, toStatus(s.node.Status()))
}

// toStatus converts the node's status to the API's, field by field (a test
// checks that every field arrives).
func toStatus(st node.Status) apitype.Status {
	out := apitype.Status{ID: st.ID, Network: st.Network, Addrs: st.Addrs, Peers: st.Peers,
		Namespaces: make(map[string]apitype.NamespaceStatus, len(st.Namespaces)),
		Replicates: st.Replicates, Holds: st.Holds, Forwards: st.Forwards,
		Applied: apitype.Applied{Local: st.Applied.Local, Remote: st.Applied.Remote}}
	if out.Addrs == nil {
		out.Addrs = []string{}
	}
	if out.Holds == nil {
		out.Holds = []string{}
	}
	if r := st.Recovered; r != nil {
		out.Recovered = &apitype.Recovery{At: r.At, Quarantine: r.Quarantine, Damage: r.Damage}
	}
	for name, ns := range st.Namespaces {
		p := ns.Sync
		r := ns.Rounds
		out.Namespaces[name] = apitype.NamespaceStatus{Items: ns.Items, Tombstones: ns.Tombstones, Bytes: ns.Bytes, Rounds: apitype.RoundHistory{
			LastPeer: r.LastPeer, Last: r.Last, LastClean: r.LastClean, BytesSent: r.BytesSent, BytesReceived: r.BytesReceived,
		}, Sync: apitype.SyncProgress{
			Syncing: p.Syncing, Peer: p.Peer, KeysReceived: p.KeysReceived, KeysEstimated: p.KeysEstimated,
			RangesDone: p.RangesDone, RangesTotal: p.RangesTotal, LastRound: p.LastRound, LastRoundClean: p.LastRoundClean,
			PullFirst: p.PullFirst, Synced: p.Synced,
		}}
	}
	return out
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	s.scrape.ServeHTTP(w, r)
	return nil
}

// healthz is liveness: the process is up and serving (503 once closing).
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	_, err := io.WriteString(w, "ok\n")
	return err
}

// readyz is readiness (node.Node.Ready): "ready", or 503 with one reason a
// line. It is plain text, not an API error: probes read the status code.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) error {
	reasons := s.node.Ready()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(reasons) == 0 {
		_, err := io.WriteString(w, "ready\n")
		return err
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, err := io.WriteString(w, "not ready:\n"+strings.Join(reasons, "\n")+"\n")
	return err
}

// HeaderServedBy is the response header naming the peer that answered a
// request of a route that can forward (/v1/kv, /v1/counter, /v1/set,
// /v1/txn): a holder the request was forwarded to (the namespace is not
// replicated by this peer, see node's forward.go), or this peer.
const HeaderServedBy = "X-Grapevine-Served-By"

// servedBy returns r's context, which records the peer that answers; the
// header is set when the response's headers are written. w is the
// servedByWriter ServeHTTP made, or a writer wrapping it (Unwrap).
func (s *Server) servedBy(w http.ResponseWriter, r *http.Request) context.Context {
	ctx, by := s.node.TrackServedBy(r.Context())
	for w != nil {
		if sw, ok := w.(*servedByWriter); ok {
			sw.by = by
			break
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	return ctx
}

// servedByWriter sets HeaderServedBy when the headers are written.
type servedByWriter struct {
	http.ResponseWriter
	by func() string
}

func (w *servedByWriter) WriteHeader(code int) {
	if w.by != nil {
		w.Header().Set(HeaderServedBy, w.by())
		w.by = nil
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *servedByWriter) Write(b []byte) (int, error) {
	if w.by != nil {
		w.Header().Set(HeaderServedBy, w.by())
		w.by = nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *servedByWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
