// Package api serves a Node over HTTP/JSON (Consul-like: /v1/kv, /v1/counter,
// /v1/peers, /v1/status, /metrics, /healthz) and provides the typed Go
// client the CLI uses, which fails over between several peers.
//
// Every error is a JSON object {"code": "...", "message": "..."} with a
// stable code and an HTTP status that fits it.
package api
