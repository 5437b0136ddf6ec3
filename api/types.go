package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes: stable strings that scripts may match.
const (
	CodeInvalidKey       = "invalid_key"
	CodeInvalidNamespace = "invalid_namespace"
	CodeInvalidArgument  = "invalid_argument"
	CodeValueTooLarge    = "value_too_large"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// VersionHeader carries a value's version (its HLC stamp as a decimal).
const VersionHeader = "Grapevine-Version"

// Error is the JSON body of every failed request.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error returns the message with its code.
func (e *Error) Error() string { return fmt.Sprintf("%s (%s)", e.Message, e.Code) }

// Is makes errors.Is(err, ErrNotFound) work for a not_found Error.
func (e *Error) Is(target error) bool { return target == ErrNotFound && e.Code == CodeNotFound }

// ErrNotFound matches (with errors.Is) an Error of code not_found.
var ErrNotFound = errors.New("api: not found")

// ErrUnreachable is returned by the client when no endpoint answers.
var ErrUnreachable = errors.New("api: no grapevine daemon reachable")

// Entry is one key of a listing. Value is base64 in JSON (absent with
// keys=true).
type Entry struct {
	Key     string `json:"key"`
	Value   []byte `json:"value,omitempty"`
	Version uint64 `json:"version,omitempty"`
}

// Page is one page of a listing; Next, when set, is the after= cursor of
// the next page.
type Page struct {
	Entries []Entry `json:"entries"`
	Next    string  `json:"next,omitempty"`
}

// Counter is a counter's value.
type Counter struct {
	Key   string `json:"key"`
	Value int64  `json:"value"`
}

// PeerInfo is one connected peer.
type PeerInfo struct {
	ID        string   `json:"id"`
	Addrs     []string `json:"addrs"`
	LatencyMS float64  `json:"latency_ms"`
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
	Key     string `json:"key"`
	Type    string `json:"type"`              // "register" or "counter"
	Value   []byte `json:"value,omitempty"`   // register value (base64)
	Version uint64 `json:"version,omitempty"` // register version
	Deleted bool   `json:"deleted,omitempty"` // the register was deleted
	Counter int64  `json:"counter,omitempty"` // counter value
}

// Value is a key's value with its version.
type Value struct {
	Data    []byte
	Version uint64
}

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

var errMethod = errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed")
