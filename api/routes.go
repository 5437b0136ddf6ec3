package api

import (
	"net/http"
	"slices"
	"strings"
)

// endpoint is one request the API answers: a method on a path, as the
// documentation writes it ({key} is any key, escaped).
type endpoint struct {
	method, path string
}

func (e endpoint) String() string { return e.method + " " + e.path }

// route is one ServeMux pattern, its handler and the endpoints it serves.
type route struct {
	pattern   string
	handle    func(*Server, http.ResponseWriter, *http.Request) error
	endpoints []endpoint
}

// routes is the API: the server registers these and nothing else (but the
// test hooks, when enabled), the 404 answer lists them, and tests check
// doc.go and the README against them.
var routes = []route{
	{"/v1/kv/{key...}", (*Server).kv, []endpoint{
		{http.MethodPut, "/v1/kv/{key}"},
		{http.MethodGet, "/v1/kv/{key}"},
		{http.MethodHead, "/v1/kv/{key}"},
		{http.MethodDelete, "/v1/kv/{key}"},
	}},
	{"/v1/kv", (*Server).list, []endpoint{{http.MethodGet, "/v1/kv"}}},
	{"/v1/counter/{key...}", (*Server).counter, []endpoint{
		{http.MethodPost, "/v1/counter/{key}"},
		{http.MethodGet, "/v1/counter/{key}"},
	}},
	{"/v1/watch", (*Server).watch, []endpoint{{http.MethodGet, "/v1/watch"}}},
	{"/v1/peers", (*Server).peers, []endpoint{{http.MethodGet, "/v1/peers"}}},
	{"/v1/status", (*Server).status, []endpoint{{http.MethodGet, "/v1/status"}}},
	{"/v1/sync", (*Server).sync, []endpoint{{http.MethodPost, "/v1/sync"}}},
	{"/metrics", (*Server).metrics, []endpoint{{http.MethodGet, "/metrics"}}},
	{"/healthz", (*Server).healthz, []endpoint{{http.MethodGet, "/healthz"}}},
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
