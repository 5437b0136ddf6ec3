package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/grapevine-kv/grapevine/api/ui"
)

// endpoint is one request the API answers: a method on a path, as the
// documentation writes it ({key} is any key, escaped), and what it needs
// of an API token when the server has tokens (the zero value: write).
type endpoint struct {
	method, path string
	need         access
}

func (e endpoint) String() string { return e.method + " " + e.path }

// route is one ServeMux pattern, its handler and the endpoints it serves.
// A route is namespace-scoped unless global: a token's namespace patterns
// must then admit the request's ?ns= (default "default").
type route struct {
	pattern   string
	handle    func(*Server, http.ResponseWriter, *http.Request) error
	endpoints []endpoint
	global    bool // not about one namespace: the token's patterns are not checked
}

// public reports whether every endpoint of rt needs no token.
func (rt route) public() bool {
	for _, e := range rt.endpoints {
		if e.need != accessPublic {
			return false
		}
	}
	return true
}

// routes is the API: the server registers these and nothing else (but the
// test hooks, when enabled), the 404 answer lists them, and tests check
// doc.go and the README against them.
var routes = []route{
	{"/v1/kv/{key...}", (*Server).kv, []endpoint{
		{http.MethodPut, "/v1/kv/{key}", accessWrite},
		{http.MethodGet, "/v1/kv/{key}", accessRead},
		{http.MethodHead, "/v1/kv/{key}", accessRead},
		{http.MethodDelete, "/v1/kv/{key}", accessWrite},
	}, false},
	{"/v1/kv", (*Server).list, []endpoint{{http.MethodGet, "/v1/kv", accessRead}}, false},
	{"/v1/counter/{key...}", (*Server).counter, []endpoint{
		{http.MethodPost, "/v1/counter/{key}", accessWrite},
		{http.MethodGet, "/v1/counter/{key}", accessRead},
		{http.MethodDelete, "/v1/counter/{key}", accessWrite},
	}, false},
	{"/v1/set/{key...}", (*Server).set, []endpoint{
		{http.MethodGet, "/v1/set/{key}", accessRead},
		{http.MethodPost, "/v1/set/{key}", accessWrite},
		{http.MethodDelete, "/v1/set/{key}", accessWrite},
	}, false},
	{"/v1/txn", (*Server).txn, []endpoint{{http.MethodPost, "/v1/txn", accessWrite}}, false},
	{"/v1/watch", (*Server).watch, []endpoint{{http.MethodGet, "/v1/watch", accessRead}}, false},
	{"/v1/peers", (*Server).peers, []endpoint{{http.MethodGet, "/v1/peers", accessRead}}, true},
	{"/v1/status", (*Server).status, []endpoint{{http.MethodGet, "/v1/status", accessRead}}, true},
	{"/v1/sync", (*Server).sync, []endpoint{{http.MethodPost, "/v1/sync", accessWrite}}, true},
	{"/v1/export", (*Server).exportStates, []endpoint{{http.MethodGet, "/v1/export", accessRead}}, true},
	{"/v1/import", (*Server).importStates, []endpoint{{http.MethodPost, "/v1/import", accessWrite}}, true},
	{"/v1/backup", (*Server).backup, []endpoint{{http.MethodGet, "/v1/backup", accessRead}}, true},
	{"/metrics", (*Server).metrics, []endpoint{{http.MethodGet, "/metrics", accessRead}}, true},
	{"/healthz", (*Server).healthz, []endpoint{{http.MethodGet, "/healthz", accessPublic}}, true},
	{"/readyz", (*Server).readyz, []endpoint{{http.MethodGet, "/readyz", accessPublic}}, true},
	{ui.Prefix, (*Server).ui, []endpoint{{http.MethodGet, ui.Prefix, accessPublic}}, true},
}

// endpoints returns every endpoint of routes, in order.
func endpoints(rs []route) []endpoint {
	var out []endpoint
	for _, r := range rs {
		out = append(out, r.endpoints...)
	}
	return out
}

// paths returns the distinct paths of routes, in order, comma-separated:
// the list the 404 answer gives.
func paths(rs []route) string {
	var ps []string
	for _, e := range endpoints(rs) {
		if !slices.Contains(ps, e.path) {
			ps = append(ps, e.path)
		}
	}
	return strings.Join(ps, ", ")
}

// methods returns the methods a route accepts, for the Allow header.
func (rt route) methods() []string {
	var ms []string
	for _, e := range rt.endpoints {
		if !slices.Contains(ms, e.method) {
			ms = append(ms, e.method)
		}
	}
	return ms
}
