// Package api serves a grapevine node over HTTP/JSON, Consul-like. The Go
// client is package api/client and the request and response types are in
// package api/apitype, so a program that only talks to a daemon imports
// neither this package nor the node.
//
// # Endpoints
//
// Every request takes ?ns=NAME for a namespace ("default" when absent). A
// {key} is path-escaped; escape "/" as %2F if the key has empty or dot
// segments (the Go client always does).
//
//	PUT    /v1/kv/{key}       set key to the raw request body; 204, version in the Grapevine-Version header
//	GET    /v1/kv/{key}       the raw value, its version in Grapevine-Version
//	HEAD   /v1/kv/{key}       as GET, without the body
//	DELETE /v1/kv/{key}       delete key (a tombstone); 204
//	GET    /v1/kv             ?prefix=&after=&limit=&keys=true: a page of keys in order (apitype.Page); pass next as after
//	POST   /v1/counter/{key}  ?by=N (default 1, may be negative): add to the counter; its new value (apitype.Counter)
//	GET    /v1/counter/{key}  the counter's value (apitype.Counter)
//	GET    /v1/watch          ?prefix=: every change, local or replicated, one apitype.Event a line, until the client leaves
//	GET    /v1/peers          the connected peers ([]apitype.PeerInfo)
//	GET    /v1/status         the peer, its network, and items and sync progress per namespace (apitype.Status)
//	POST   /v1/sync           one anti-entropy round with a random peer (apitype.SyncResult)
//	GET    /metrics           Prometheus metrics
//	GET    /healthz           liveness: "ok" while the process serves
//	GET    /readyz            readiness: "ready", or 503 with the reasons (storage not writable, no peer connected though some are known, a bootstrap in progress)
//
// # Tokens
//
// A daemon started with --api-token-file needs an API token on every
// request but GET /healthz and GET /readyz, sent as "Authorization: Bearer TOKEN" (see
// Tokens for the file's format). Which token may do what:
//
//	token needed                 endpoints
//	read, for the namespace      GET and HEAD /v1/kv/{key}, GET /v1/kv, GET /v1/counter/{key}, GET /v1/watch
//	write, for the namespace     PUT and DELETE /v1/kv/{key}, POST /v1/counter/{key}
//	any valid token              GET /v1/status, GET /v1/peers, GET /metrics (they span every namespace)
//	any write token              POST /v1/sync (a round covers every namespace), the /v1/test/ hooks
//	none                         GET /healthz, GET /readyz
//
// "For the namespace": one of the token's patterns admits the request's
// ?ns= ("default" when absent). A write token may also read.
//
// A request without a token, with a malformed Authorization header or an
// unknown token answers 401 unauthorized with a WWW-Authenticate: Bearer
// header, and so does any unknown path (the 404 list of endpoints is for
// token holders); a valid token that may not do what the request asks
// answers 403 forbidden. Both are counted in the metric
// grapevine_http_refusals_total{code} and logged with the remote address
// and the reason, never the token. Tokens are compared by their SHA-256 in
// constant time. Without --api-token-file no endpoint needs a token, and
// the daemon refuses to listen beyond loopback unless --insecure-api is
// given (see CheckExposure). With --api-tls-cert and --api-tls-key the API
// is HTTPS only (TLS 1.2 or later) and <data>/api records an https:// URL.
//
// # Unknown paths and methods
//
// Any other path answers 404 not_found with the list of paths above; a
// listed path with another method answers 405 method_not_allowed with an
// Allow header. The test-only endpoints under /v1/test/ exist only on a
// daemon started with --test-hooks; testhooks.go documents them.
//
// # Errors
//
// Every failed request answers a JSON object {"code": "...", "message":
// "..."} (apitype.Error): the code is stable and scripts may match it, the
// message tells a person what to do. A refused request changes nothing.
// The codes and their HTTP statuses:
//
//	400 invalid_key         the key is empty, over 4096 bytes, not UTF-8, or has a control character
//	400 invalid_namespace   the namespace is not 1 to 64 of a-z 0-9 . _ -
//	400 invalid_argument    a query parameter or the body is malformed
//	401 unauthorized        the daemon needs an API token and the request has none, or one it does not know
//	403 forbidden           the request's token may not do this (read only, or not this namespace), or the namespace has a writer list and this peer is not on it
//	404 not_found           the key is absent or deleted (or the endpoint does not exist)
//	405 method_not_allowed  the endpoint does not take this method
//	409 overflow            the increment would take the counter past int64
//	413 value_too_large     the value exceeds the peer's limit
//	499 canceled            the request's context ended first (the client went away)
//	500 storage_failure     the peer's disk or database failed
//	500 internal            anything else: a bug, logged by the daemon
//	502 sync_failed         the anti-entropy round with the other peer failed
//	503 no_peers            POST /v1/sync found no connected peer
//	503 unavailable         the peer is shutting down, or its network failed; try another peer
//
// Once the node is closed, every endpoint answers 503 unavailable. 409 is
// used for overflow because the request is well-formed and conflicts only
// with the counter's current value; 499 (nginx's "client closed request")
// keeps a client hanging up out of the server-error statuses.
package api
