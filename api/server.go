package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxListLimit bounds the limit= of a listing.
const MaxListLimit = 10000

// Server is the HTTP handler of a node. Create it with NewServer.
type Server struct {
	node     *node.Node
	log      *slog.Logger
	maxValue int
	mux      *http.ServeMux
	requests *prometheus.CounterVec
}

// NewServer returns the HTTP API of n. maxValue is the node's value limit
// (request bodies above it are refused with value_too_large).
func NewServer(n *node.Node, maxValue int, log *slog.Logger) *Server {
	s := &Server{node: n, log: log, maxValue: maxValue, mux: http.NewServeMux()}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grapevine_http_requests_total",
		Help: "HTTP API requests by route and status code.",
	}, []string{"route", "code"})
	n.Metrics().MustRegister(s.requests)
	s.route("/v1/kv/{key...}", s.kv)
	s.route("/v1/kv", s.list)
	s.route("/v1/counter/{key...}", s.counter)
	s.route("/v1/peers", s.peers)
	s.route("/v1/status", s.status)
	s.route("/v1/sync", s.sync)
	s.route("/v1/watch", s.watch)
	s.route("/healthz", func(w http.ResponseWriter, r *http.Request) error {
		_, err := io.WriteString(w, "ok\n")
		return err
	})
	s.mux.Handle("/metrics", promhttp.HandlerFor(n.Metrics(), promhttp.HandlerOpts{}))
	s.route("/", func(http.ResponseWriter, *http.Request) error {
		return errorf(http.StatusNotFound, CodeNotFound, "no such endpoint; see /v1/kv, /v1/counter, /v1/peers, /v1/status, /metrics, /healthz")
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type handler func(http.ResponseWriter, *http.Request) error

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

func (s *Server) route(pattern string, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		if err := h(sw, r); err != nil {
			s.writeError(sw, r, err)
		}
		s.requests.WithLabelValues(pattern, strconv.Itoa(sw.code)).Inc()
	})
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, node.ErrNotFound):
		e = errorf(http.StatusNotFound, CodeNotFound, "key not found")
	case errors.Is(err, node.ErrInvalidKey):
		e = errorf(http.StatusBadRequest, CodeInvalidKey, "%v", err)
	case errors.Is(err, node.ErrInvalidNamespace):
		e = errorf(http.StatusBadRequest, CodeInvalidNamespace, "%v", err)
	case errors.Is(err, node.ErrValueTooLarge):
		e = errorf(http.StatusRequestEntityTooLarge, CodeValueTooLarge, "%v", err)
	case errors.Is(err, crdt.ErrOverflow):
		e = errorf(http.StatusBadRequest, CodeInvalidArgument, "the increment would overflow the counter")
	case errors.Is(err, node.ErrNoPeers):
		e = errorf(http.StatusServiceUnavailable, CodeUnavailable, "no connected peer to sync with; check `grapevine peers` and the bootstrap list")
	case errors.Is(err, node.ErrClosed):
		e = errorf(http.StatusServiceUnavailable, CodeUnavailable, "the peer is shutting down")
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = errorf(http.StatusInternalServerError, CodeInternal, "internal error: %v", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// ValidKey reports whether k is a valid API key: UTF-8, 1 to 4096 bytes,
// no control characters.
func ValidKey(k string) error {
	switch {
	case k == "":
		return errorf(http.StatusBadRequest, CodeInvalidKey, "the key is empty")
	case len(k) > node.MaxKeyLen:
		return errorf(http.StatusBadRequest, CodeInvalidKey, "the key is %d bytes; the limit is %d", len(k), node.MaxKeyLen)
	case !utf8.ValidString(k):
		return errorf(http.StatusBadRequest, CodeInvalidKey, "the key is not valid UTF-8")
	}
	for _, c := range k {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return errorf(http.StatusBadRequest, CodeInvalidKey, "the key contains a control character (%U)", c)
		}
	}
	return nil
}

func keyOf(r *http.Request) (string, error) {
	k := r.PathValue("key")
	return k, ValidKey(k)
}

func (s *Server) kv(w http.ResponseWriter, r *http.Request) error {
	key, err := keyOf(r)
	if err != nil {
		return err
	}
	ns := r.URL.Query().Get("ns")
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.maxValue)))
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errorf(http.StatusRequestEntityTooLarge, CodeValueTooLarge, "the value exceeds the limit of %d bytes", s.maxValue)
		}
		if err != nil {
			return errorf(http.StatusBadRequest, CodeInvalidArgument, "reading the body: %v", err)
		}
		v, err := s.node.Put(r.Context(), ns, []byte(key), body)
		if err != nil {
			return err
		}
		w.Header().Set(VersionHeader, strconv.FormatUint(uint64(v), 10))
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodGet, http.MethodHead:
		v, err := s.node.Get(r.Context(), ns, []byte(key))
		if err != nil {
			return err
		}
		w.Header().Set(VersionHeader, strconv.FormatUint(uint64(v.Version), 10))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(v.Data)))
		_, err = w.Write(v.Data)
		return err
	case http.MethodDelete:
		if err := s.node.Delete(r.Context(), ns, []byte(key)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return errMethod
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errMethod
	}
	q := r.URL.Query()
	limit := 1000
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxListLimit {
			return errorf(http.StatusBadRequest, CodeInvalidArgument, "limit must be a number from 1 to %d, got %q", MaxListLimit, l)
		}
		limit = n
	}
	keysOnly, err := boolParam(q.Get("keys"))
	if err != nil {
		return err
	}
	page, err := s.node.List(r.Context(), q.Get("ns"), node.ListOptions{Prefix: []byte(q.Get("prefix")), After: []byte(q.Get("after")), Limit: limit})
	if err != nil {
		return err
	}
	out := Page{Entries: make([]Entry, 0, len(page.Entries)), Next: string(page.Next)}
	for _, e := range page.Entries {
		ent := Entry{Key: string(e.Key)}
		if !keysOnly {
			ent.Value, ent.Version = e.Data, uint64(e.Version)
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
		return false, errorf(http.StatusBadRequest, CodeInvalidArgument, "expected true or false, got %q", v)
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
				return errorf(http.StatusBadRequest, CodeInvalidArgument, "by must be a whole number, got %q", b)
			}
		}
		v, err = s.node.Incr(r.Context(), ns, []byte(key), by)
	case http.MethodGet:
		v, err = s.node.Counter(r.Context(), ns, []byte(key))
	default:
		return errMethod
	}
	if err != nil {
		return err
	}
	return writeJSON(w, Counter{Key: key, Value: v})
}

func (s *Server) peers(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errMethod
	}
	out := []PeerInfo{}
	for _, p := range s.node.Peers() {
		info := PeerInfo{ID: p.ID.String(), Addrs: []string{}, LatencyMS: float64(p.Latency) / float64(time.Millisecond)}
		for _, a := range p.Addrs {
			info.Addrs = append(info.Addrs, a.String())
		}
		out = append(out, info)
	}
	return writeJSON(w, out)
}

func (s *Server) sync(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return errMethod
	}
	st, err := s.node.Sync(r.Context())
	if err != nil && len(st.Namespaces) == 0 && st.Peer == "" {
		return err
	}
	if err != nil {
		return errorf(http.StatusBadGateway, CodeUnavailable, "sync with %s failed: %v", st.Peer, err)
	}
	out := SyncResult{Peer: st.Peer.String(), Clean: st.Clean(), DurationMS: float64(st.Duration) / float64(time.Millisecond), Namespaces: []SyncNamespace{}}
	for _, ns := range st.Namespaces {
		out.Namespaces = append(out.Namespaces, SyncNamespace{Namespace: ns.Namespace, RoundTrips: ns.RoundTrips,
			BytesSent: ns.BytesSent, BytesReceived: ns.BytesReceived, StatesSent: ns.StatesSent,
			StatesReceived: ns.StatesReceived, Repaired: ns.Repaired})
	}
	return writeJSON(w, out)
}

// watch streams changes as JSON lines until the client goes away. If the
// client falls too far behind, the stream ends; it should re-read and
// watch again.
func (s *Server) watch(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errMethod
	}
	q := r.URL.Query()
	events, err := s.node.Watch(r.Context(), q.Get("ns"), []byte(q.Get("prefix")))
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
		out := Event{Key: string(ev.Key), Type: ev.Type.String(), Deleted: ev.Deleted, Counter: ev.Counter}
		if ev.Type == crdt.TypeRegister {
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
	if r.Method != http.MethodGet {
		return errMethod
	}
	return writeJSON(w, s.node.Status())
}
