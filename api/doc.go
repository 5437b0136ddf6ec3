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
//	PUT    /v1/kv/{key}       set key to the raw request body; ?ttl=30s, conditions (below); 204, version in Grapevine-Version and ETag
//	GET    /v1/kv/{key}       the raw value, its version in Grapevine-Version and ETag (expiry in Grapevine-Expires); a name that is only a counter or a set answers 404 saying so
//	HEAD   /v1/kv/{key}       as GET, without the body
//	DELETE /v1/kv/{key}       delete key (a tombstone); conditions (below); 204
//	POST   /v1/txn            {"ops": [{"op": "put"|"del"|"incr", ...}]} (apitype.TxnRequest): all or nothing; apitype.TxnResponse
//	GET    /v1/kv             ?prefix=&after=&limit=&keys=true: a page of keys of every type in order, each with its type (apitype.Page); pass next as after
//	POST   /v1/counter/{key}  ?by=N (default 1, may be negative): add to the counter; its new value (apitype.Counter)
//	GET    /v1/counter/{key}  the counter's value (apitype.Counter)
//	DELETE /v1/counter/{key}  reset the counter (observed-reset: increments this peer has not seen survive); 204
//	GET    /v1/set/{key}      the set's members (apitype.Set); with ?member=BASE64 whether it is one (apitype.SetContains)
//	POST   /v1/set/{key}      add the members of the body {"members": [BASE64, ...]} (apitype.SetMembers); 204
//	DELETE /v1/set/{key}      remove the members of the same body (the adds this peer has seen); 204
//	GET    /v1/watch          ?prefix=&since=&peer=: every change, local or replicated, one apitype.Event a line, until the client leaves; since= first replays the changes after that index (see Watching)
//	GET    /v1/peers          the connected peers ([]apitype.PeerInfo)
//	GET    /v1/status         the peer, its network, and items and sync progress per namespace (apitype.Status)
//	POST   /v1/sync           one anti-entropy round with a random peer, or ?peer=ID (apitype.SyncResult)
//	GET    /v1/export         ?ns=A,B (none: every namespace) &prefix=&tombstones=true: the states as an export stream (see Export and import)
//	POST   /v1/import         merge the export stream in the body, as states from a peer; apitype.ImportResult
//	GET    /v1/backup         a backup of the whole peer's database (Badger's backup stream), from one snapshot
//	GET    /metrics           Prometheus metrics
//	GET    /healthz           liveness: "ok" while the process serves
//	GET    /readyz            readiness: "ready", or 503 with the reasons (storage not writable, no peer connected though some are known, a bootstrap in progress)
//	GET    /ui/               the web dashboard (package ui): static files; the page asks for a token when the API needs one
//
// # Export and import
//
// GET /v1/export streams the peer's CRDT states, from one consistent
// snapshot, in the export format (wire.ExportWriter documents it): a
// length-delimited JSON header {"format": "grapevine-export", "version": 1,
// "namespaces": [...], ...}, then one record per state (namespace, type,
// key, the state in crdt's canonical encoding), then an end record with the
// count and a CRC-32C. Without tombstones=true it holds what GET /v1/kv
// lists. The answer carries Grapevine-Export-States (about how many
// states, without a prefix) and Grapevine-Peer. An export that fails
// midway ends without its end record, which an import reports as
// incomplete. POST /v1/import merges such a stream as if a peer had sent
// it: a signed namespace refuses states its writers did not sign, the
// clock refuses stamps too far ahead, and the merge rules decide the rest,
// so importing twice or into a newer peer is harmless; the answer counts
// states read, changed and refused. A malformed or truncated stream
// answers 400 invalid_argument (states before the fault stay applied).
// GET /v1/backup streams Badger's backup of the whole database (see the
// README's "Backup, export and import"); grapevine restore loads it into a
// new data directory.
//
// # Conditional writes, TTL and transactions
//
// PUT and DELETE take one condition: If-Match: "<version>" (the key holds
// this version), If-None-Match: * (the key is absent: never written,
// deleted or expired), or ?cas=<version> (cas=0: absent). It is checked
// in the peer's apply loop, in the storage transaction of the write, so it
// is exact on that peer; across peers it is not linearizable (see the
// README). A failed condition answers 412 precondition_failed with the
// key's current version in the body ("version") and in ETag. ?ttl= gives a
// value a lifetime; after it every peer reads the key as absent. POST
// /v1/txn applies up to node.MaxTxnOps ops (node.MaxTxnBytes of keys and
// values) in one storage transaction on this peer, each op optionally
// with if_version or if_absent, and publishes them as one gossip message.
//
// # Tokens
//
// A daemon started with --api-token-file needs an API token on every
// request but GET /healthz, GET /readyz and the dashboard's files (GET
// /ui/), sent as "Authorization: Bearer TOKEN" (see
// Tokens for the file's format). Which token may do what:
//
//	token needed                 endpoints
//	read, for the namespace      GET and HEAD /v1/kv/{key}, GET /v1/kv, GET /v1/counter/{key}, GET /v1/set/{key}, GET /v1/watch
//	write, for the namespace     PUT and DELETE /v1/kv/{key}, POST and DELETE /v1/counter/{key}, POST and DELETE /v1/set/{key}, POST /v1/txn
//	any valid token              GET /v1/status, GET /v1/peers, GET /metrics (they span every namespace)
//	any write token              POST /v1/sync (a round covers every namespace), the /v1/test/ hooks
//	read, for every namespace    GET /v1/export (those exported), GET /v1/backup (all the peer holds)
//	write, for every namespace   POST /v1/import (all the export's header names)
//	none                         GET /healthz, GET /readyz, GET /ui/ (the dashboard's files)
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
//	400 invalid_argument    a query parameter or the body is malformed, or a set member is empty or over 4096 bytes
//	401 unauthorized        the daemon needs an API token and the request has none, or one it does not know
//	403 forbidden           the request's token may not do this (read only, or not this namespace), or the namespace has a writer list and this peer is not on it (or the request is a set or a counter reset, which cannot be signed)
//	404 not_found           the key is absent or deleted (or the endpoint does not exist)
//	405 method_not_allowed  the endpoint does not take this method
//	410 compacted           a watch's since= is older than the peer's change log, ahead of it, or (peer=) another peer's
//	409 overflow            the increment would take the counter past int64
//	412 precondition_failed a conditional write's condition did not hold; the body's version is the key's current one
//	413 value_too_large     the value exceeds the peer's limit
//	413 txn_too_large       a transaction has more ops or bytes than the peer's limits
//	499 canceled            the request's context ended first (the client went away)
//	500 storage_failure     the peer's disk or database failed
//	500 internal            anything else: a bug, logged by the daemon
//	502 sync_failed         the anti-entropy round with the other peer failed
//	503 no_peers            POST /v1/sync found no connected peer
//	503 unavailable         the peer is shutting down, or its network failed; try another peer
//
// # Watching
//
// Every event carries its change index on the answering peer, whose ID is
// in the Grapevine-Peer header; Grapevine-Index holds the peer's last
// index when the watch began. GET /v1/watch?since=N&peer=ID sends first,
// for every key changed after index N and still in the peer's change log,
// its current state (with the index of its latest change), then the live
// changes, without a gap: at least once, and a key's last event is its
// current state. An N older than the retained log (a daemon flag,
// --changelog-entries), ahead of it, or a peer= other than this peer
// answers 410 compacted, headers included: read the keys again, then watch
// with since= the Grapevine-Index of that answer. A watcher more than
// node.WatchBuffer events behind gets a last line {"dropped": true,
// "index": N, "message": ...} and the stream ends; watch again with
// since=N.
//
// Once the node is closed, every endpoint answers 503 unavailable. 409 is
// used for overflow because the request is well-formed and conflicts only
// with the counter's current value; 499 (nginx's "client closed request")
// keeps a client hanging up out of the server-error statuses.
package api
