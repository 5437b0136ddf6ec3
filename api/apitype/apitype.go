// Package apitype holds the request and response types of grapevine's
// HTTP API: the JSON bodies the server emits, the error body with its
// stable codes, and the headers. It imports only the standard library, so
// a program that talks to a daemon (through package api/client or its own
// HTTP code) does not pull in the server, libp2p or Badger.
package apitype

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// VersionHeader carries a value's version (its HLC stamp as a decimal).
// The same version is sent as a standard ETag, quoted: ETag: "<version>".
const VersionHeader = "Grapevine-Version"

// ExpiresHeader carries when a value with a TTL expires (RFC 3339, UTC).
const ExpiresHeader = "Grapevine-Expires"

// PeerHeader and IndexHeader come with every GET /v1/watch answer (a 410
// compacted one too): the peer's ID, to which the change indexes belong,
// and its last change index when the watch began. After a 410, read the
// keys, then watch with since= that index and peer= that ID.
const (
	PeerHeader  = "Grapevine-Peer"
	IndexHeader = "Grapevine-Index"
)

// MaxKeyLen is the longest key in bytes (the node's limit; a test in the
// api package checks that they agree).
const MaxKeyLen = 4096

// MaxListLimit bounds the limit= of a listing (GET /v1/kv).
const MaxListLimit = 10000

// ValidKey returns nil if k is a key the API accepts: valid UTF-8, 1 to
// MaxKeyLen bytes, no control characters; otherwise an error saying why
// (the server answers it as invalid_key). A client may check keys first.
func ValidKey(k string) error {
	switch {
	case k == "":
		return errors.New("the key is empty")
	case len(k) > MaxKeyLen:
		return fmt.Errorf("the key is %d bytes; the limit is %d", len(k), MaxKeyLen)
	case !utf8.ValidString(k):
		return errors.New("the key is not valid UTF-8")
	}
	for _, c := range k {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return fmt.Errorf("the key contains a control character (%U)", c)
		}
	}
	return nil
}

// Error codes: stable strings that scripts may match. The HTTP status of
// each is fixed (see the api package documentation for the table).
const (
	CodeInvalidKey       = "invalid_key"         // 400: the key is empty, too long, not UTF-8 or has a control character
	CodeInvalidNamespace = "invalid_namespace"   // 400: the namespace breaks the naming rule
	CodeInvalidArgument  = "invalid_argument"    // 400: a query parameter or the body is malformed
	CodeUnauthorized     = "unauthorized"        // 401: the daemon needs an API token and got none, or an unknown one
	CodeForbidden        = "forbidden"           // 403: not allowed: the token may not do this, or the namespace's writer list excludes this peer
	CodeNotFound         = "not_found"           // 404: the key (or the endpoint) does not exist
	CodeMethodNotAllowed = "method_not_allowed"  // 405: the endpoint exists, not with this method
	CodeCompacted        = "compacted"           // 410: a watch's since= is no longer in the peer's change log, or belongs to another peer
	CodeOverflow         = "overflow"            // 409: the increment would take the counter past int64
	CodeValueTooLarge    = "value_too_large"     // 413: the value exceeds the peer's limit
	CodePrecondition     = "precondition_failed" // 412: a conditional write's condition did not hold; nothing changed
	CodeTxnTooLarge      = "txn_too_large"       // 413: a transaction has too many ops or bytes
	CodeCanceled         = "canceled"            // 499: the request was cancelled before it completed
	CodeInternal         = "internal"            // 500: a bug or an unexpected failure
	CodeStorageFailure   = "storage_failure"     // 500: the peer's disk or database failed
	CodeSyncFailed       = "sync_failed"         // 502: the anti-entropy round with the other peer failed
	CodeUnavailable      = "unavailable"         // 503: the peer is shutting down, or its network failed
	CodeNoPeers          = "no_peers"            // 503: no connected peer to sync with
	CodeNoHolder         = "no_holder"           // 503: the namespace is held elsewhere and no holder answered (or the request, a watch, is not forwarded)
)

// Sentinels matching an *Error by its code with errors.Is, e.g.
// errors.Is(err, apitype.ErrNotFound). There is one per code.
var (
	ErrInvalidKey       = errors.New("grapevine: invalid key")
	ErrInvalidNamespace = errors.New("grapevine: invalid namespace")
	ErrInvalidArgument  = errors.New("grapevine: invalid argument")
	ErrUnauthorized     = errors.New("grapevine: unauthorized")
	ErrForbidden        = errors.New("grapevine: forbidden")
	ErrNotFound         = errors.New("grapevine: not found")
	ErrMethodNotAllowed = errors.New("grapevine: method not allowed")
	ErrCompacted        = errors.New("grapevine: change index compacted")
	ErrOverflow         = errors.New("grapevine: counter overflow")
	ErrValueTooLarge    = errors.New("grapevine: value too large")
	ErrPrecondition     = errors.New("grapevine: precondition failed")
	ErrTxnTooLarge      = errors.New("grapevine: transaction too large")
	ErrCanceled         = errors.New("grapevine: canceled")
	ErrInternal         = errors.New("grapevine: internal error")
	ErrStorageFailure   = errors.New("grapevine: storage failure")
	ErrSyncFailed       = errors.New("grapevine: sync failed")
	ErrUnavailable      = errors.New("grapevine: unavailable")
	ErrNoPeers          = errors.New("grapevine: no connected peer")
	ErrNoHolder         = errors.New("grapevine: no peer holds the namespace")
)

// codeErrors maps each code to its sentinel.
var codeErrors = map[string]error{
	CodeInvalidKey:       ErrInvalidKey,
	CodeInvalidNamespace: ErrInvalidNamespace,
	CodeInvalidArgument:  ErrInvalidArgument,
	CodeUnauthorized:     ErrUnauthorized,
	CodeForbidden:        ErrForbidden,
	CodeNotFound:         ErrNotFound,
	CodeMethodNotAllowed: ErrMethodNotAllowed,
	CodeCompacted:        ErrCompacted,
	CodeOverflow:         ErrOverflow,
	CodeValueTooLarge:    ErrValueTooLarge,
	CodePrecondition:     ErrPrecondition,
	CodeTxnTooLarge:      ErrTxnTooLarge,
	CodeCanceled:         ErrCanceled,
	CodeInternal:         ErrInternal,
	CodeStorageFailure:   ErrStorageFailure,
	CodeSyncFailed:       ErrSyncFailed,
	CodeUnavailable:      ErrUnavailable,
	CodeNoPeers:          ErrNoPeers,
	CodeNoHolder:         ErrNoHolder,
}

// CodeError returns the sentinel of code (nil for an unknown code).
func CodeError(code string) error { return codeErrors[code] }

// Error is the JSON body of every failed request.
type Error struct {
	Status  int    `json:"-"` // the HTTP status it came with
	Code    string `json:"code"`
	Message string `json:"message"` // for a person: what went wrong and what to do
	// Version is, for precondition_failed, the key's current version on
	// the peer (absent: the key is absent).
	Version uint64 `json:"version,omitempty"`
}

// Error returns the message with its code.
func (e *Error) Error() string { return fmt.Sprintf("%s (%s)", e.Message, e.Code) }

// Is reports whether target is the sentinel of e's code, so that
// errors.Is(err, ErrNotFound) holds for a not_found Error.
func (e *Error) Is(target error) bool {
	s, ok := codeErrors[e.Code]
	return ok && s == target
}

// Entry is one key of a listing (GET /v1/kv): a register's Value and
// Version, a counter's Counter or a set's Members, as Type ("register",
// "counter", "set") says. Value and members are base64 in JSON; with
// keys=true only Key and Type are set.
type Entry struct {
	Key     string   `json:"key"`
	Type    string   `json:"type,omitempty"`
	Value   []byte   `json:"value,omitempty"`
	Version uint64   `json:"version,omitempty"`
	Counter *int64   `json:"counter,omitempty"`
	Members [][]byte `json:"members,omitempty"`
}

// Page is one page of a listing; Next, when set, is the after= cursor of
// the next page.
type Page struct {
	Entries []Entry `json:"entries"`
	Next    string  `json:"next,omitempty"`
}

// Counter is a counter's value (POST and GET /v1/counter/{key}).
type Counter struct {
	Key   string `json:"key"`
	Value int64  `json:"value"`
}

// Value is a key's value with its version (GET /v1/kv/{key} answers the
// raw value, with the version in VersionHeader).
type Value struct {
	Data    []byte
	Version uint64
}

// PeerInfo is one connected peer (GET /v1/peers answers a list).
type PeerInfo struct {
	ID             string    `json:"id"`
	Addrs          []string  `json:"addrs"`
	LatencyMS      float64   `json:"latency_ms"`
	ConnectedSince time.Time `json:"connected_since,omitzero"` // when the oldest open connection opened
}

// SyncResult reports one anti-entropy round (POST /v1/sync).
type SyncResult struct {
	Peer       string          `json:"peer"`
	Clean      bool            `json:"clean"` // the round found no difference
	DurationMS float64         `json:"duration_ms"`
	Namespaces []SyncNamespace `json:"namespaces"`
}

// SyncNamespace reports one namespace of a round.
type SyncNamespace struct {
	Namespace      string `json:"namespace"`
	RoundTrips     int    `json:"round_trips"`
	BytesSent      int64  `json:"bytes_sent"`
	BytesReceived  int64  `json:"bytes_received"`
	StatesSent     int    `json:"states_sent"`
	StatesReceived int    `json:"states_received"`
	Repaired       int    `json:"repaired"`
}

// Event is one change streamed by GET /v1/watch, one JSON object a line.
type Event struct {
	Key     string   `json:"key"`
	Type    string   `json:"type"`              // "register", "counter" or "set"
	Value   []byte   `json:"value,omitempty"`   // register value (base64)
	Version uint64   `json:"version,omitempty"` // register version
	Deleted bool     `json:"deleted,omitempty"` // the register was deleted
	Expired bool     `json:"expired,omitempty"` // the register's value expired (version: the one that did)
	Counter int64    `json:"counter,omitempty"` // counter value
	Reset   bool     `json:"reset,omitempty"`   // the counter was reset
	Members [][]byte `json:"members,omitempty"` // a set's members after the change (base64)
	// Index is the change's index on the peer (PeerHeader): watch again
	// with since= the last one to resume. 0 on an event the Go client
	// made from a re-read after a 410.
	Index uint64 `json:"index,omitempty"`
	// Dropped marks the stream's last line when the peer dropped this
	// watcher for falling too far behind: no change, Index is where to
	// resume, Message says so for a person.
	Dropped bool   `json:"dropped,omitempty"`
	Message string `json:"message,omitempty"`
}

// Status describes a peer (GET /v1/status).
type Status struct {
	ID         string                     `json:"id"`      // libp2p peer ID
	Network    string                     `json:"network"` // network name
	Addrs      []string                   `json:"addrs"`   // full multiaddrs, with /p2p/ID
	Peers      int                        `json:"peers"`   // connected peers
	Namespaces map[string]NamespaceStatus `json:"namespaces"`
	// Replicates are the patterns of the namespaces the peer replicates
	// (its --namespaces; "*" is every one).
	Replicates []string `json:"replicates"`
	// Holds are the namespaces the peer holds and advertises in the DHT.
	Holds []string `json:"holds"`
	// Forwards are the namespaces the peer has forwarded requests for,
	// to peers that hold them.
	Forwards []string `json:"forwards,omitempty"`
	Applied  Applied  `json:"applied"` // deltas applied since the peer started (a rate of it is writes/s)
	// Recovered is set if the peer found its database damaged at start
	// and replaced it by an empty one (daemon --on-damage quarantine),
	// until it restarts.
	Recovered *Recovery `json:"recovered,omitempty"`
}

// Recovery describes a damaged database a peer moved aside at start.
type Recovery struct {
	At         time.Time `json:"at"`         // when it was moved aside
	Quarantine string    `json:"quarantine"` // where the damaged directory is now
	Damage     string    `json:"damage"`     // what was found damaged
}

// Applied counts the deltas that changed a peer's stored state since it
// started, by source.
type Applied struct {
	Local  uint64 `json:"local"`  // the peer's own writes
	Remote uint64 `json:"remote"` // received by gossip or anti-entropy
}

// NamespaceStatus describes one namespace on a peer.
type NamespaceStatus struct {
	// Items counts live keys: registers holding a value, and counters.
	Items uint64 `json:"items"`
	// Tombstones counts deleted registers whose tombstone is not purged yet.
	Tombstones uint64 `json:"tombstones"`
	// Bytes is the approximate size of the stored states, keys and values.
	Bytes uint64 `json:"bytes"`
	// Sync is the anti-entropy progress of the namespace.
	Sync SyncProgress `json:"sync"`
	// Rounds sums up the namespace's anti-entropy rounds since the peer
	// started.
	Rounds RoundHistory `json:"rounds"`
}

// RoundHistory sums up a namespace's anti-entropy rounds, as initiator or
// responder, since the peer started.
type RoundHistory struct {
	LastPeer      string    `json:"last_peer,omitempty"` // the peer of the last completed round
	Last          time.Time `json:"last,omitzero"`       // when that round ended
	LastClean     time.Time `json:"last_clean,omitzero"` // end of the last round that found no difference: the sync lag counts from it
	BytesSent     uint64    `json:"bytes_sent"`          // on sync streams, cumulative
	BytesReceived uint64    `json:"bytes_received"`      // on sync streams, cumulative
}

// SyncProgress is the anti-entropy progress of one namespace.
type SyncProgress struct {
	Syncing        bool      `json:"syncing"`                   // a round is receiving states now
	Peer           string    `json:"peer,omitempty"`            // the peer of that round
	KeysReceived   uint64    `json:"keys_received"`             // states received in that round so far
	KeysEstimated  uint64    `json:"keys_estimated"`            // states the peer announced it streams whole
	RangesDone     int       `json:"ranges_done"`               // streamed ranges fully received
	RangesTotal    int       `json:"ranges_total"`              // streamed ranges announced
	LastRound      time.Time `json:"last_round,omitzero"`       // end of the last completed round
	LastRoundClean bool      `json:"last_round_clean,omitzero"` // it found no difference
	PullFirst      bool      `json:"pull_first,omitzero"`       // away longer than the tombstone grace: old local states held back until a sync with an up-to-date peer
	Synced         time.Time `json:"synced,omitzero"`           // last round with an up-to-date peer
}

// SetMembers is the body of POST (add) and DELETE (remove) /v1/set/{key}:
// the members, base64 in JSON.
type SetMembers struct {
	Members [][]byte `json:"members"`
}

// Set is a set's members, ascending, base64 in JSON (GET /v1/set/{key}).
type Set struct {
	Key     string   `json:"key"`
	Members [][]byte `json:"members"`
}

// SetContains answers GET /v1/set/{key}?member=BASE64.
type SetContains struct {
	Key      string `json:"key"`
	Member   []byte `json:"member"`
	Contains bool   `json:"contains"`
}

// TxnRequest is the body of POST /v1/txn: ops applied all or nothing.
type TxnRequest struct {
	Ops []TxnOp `json:"ops"`
}

// TxnOp is one op of a transaction. Op is "put" (Key, Value; optional TTL,
// IfVersion or IfAbsent), "del" (Key; optional IfVersion or IfAbsent) or
// "incr" (Key, By).
type TxnOp struct {
	Op        string `json:"op"`
	Key       string `json:"key"`
	Value     []byte `json:"value,omitempty"`      // base64 in JSON
	By        int64  `json:"by,omitempty"`         // incr: the amount, may be negative
	TTL       string `json:"ttl,omitempty"`        // put: a Go duration, e.g. "30s"
	IfVersion uint64 `json:"if_version,omitempty"` // only if the key is at this version
	IfAbsent  bool   `json:"if_absent,omitempty"`  // only if the key is absent (never written, deleted or expired)
}

// TxnResponse answers a committed transaction, one result per op in order.
type TxnResponse struct {
	Results []TxnResult `json:"results"`
}

// TxnResult is the outcome of one op: Version for a put or del, Counter
// (the counter's new value on the peer) for an incr.
type TxnResult struct {
	Op      string `json:"op"`
	Key     string `json:"key"`
	Version uint64 `json:"version,omitempty"`
	Counter *int64 `json:"counter,omitempty"`
}
