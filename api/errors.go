package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/node"
)

// errorMapping is how one node sentinel is answered.
type errorMapping struct {
	sentinel error
	status   int
	code     string
	message  string // for a person; "" means the error's own text
}

// statusCanceled answers a request whose context ended before the node
// finished it (almost always: the client went away, so nobody reads it).
// It is nginx's "client closed request", kept out of the 5xx range so a
// client hanging up does not look like a failing peer in the metrics.
const statusCanceled = 499

// errorTable maps every node sentinel (node.Errors) to an HTTP status and a
// stable code; a test checks that none is missing. It is walked in order
// with errors.Is, so ErrClosed comes first: a request cut short by a
// shutdown is "unavailable" whatever else its error wraps.
//
// ErrStorage is the only 500 for a known sentinel (the disk failed).
// ErrInvalidConfig and ErrAlreadyStarted cannot happen per request: if one
// does, it is a bug, answered as internal.
var errorTable = []errorMapping{
	{node.ErrClosed, http.StatusServiceUnavailable, apitype.CodeUnavailable, "the peer is shutting down; retry another peer"},
	{node.ErrNotFound, http.StatusNotFound, apitype.CodeNotFound, "key not found"},
	{node.ErrForbidden, http.StatusForbidden, apitype.CodeForbidden, ""},
	{node.ErrCompacted, http.StatusGone, apitype.CodeCompacted, ""},
	{node.ErrInvalidKey, http.StatusBadRequest, apitype.CodeInvalidKey, ""},
	{node.ErrInvalidNamespace, http.StatusBadRequest, apitype.CodeInvalidNamespace, ""},
	{node.ErrInvalidArgument, http.StatusBadRequest, apitype.CodeInvalidArgument, ""},
	{node.ErrValueTooLarge, http.StatusRequestEntityTooLarge, apitype.CodeValueTooLarge, ""},
	{node.ErrPreconditionFailed, http.StatusPreconditionFailed, apitype.CodePrecondition, ""},
	{node.ErrTxnTooLarge, http.StatusRequestEntityTooLarge, apitype.CodeTxnTooLarge, ""},
	{node.ErrOverflow, http.StatusConflict, apitype.CodeOverflow, "the increment would overflow the counter (past the range of int64); nothing changed"},
	{node.ErrNoHolder, http.StatusServiceUnavailable, apitype.CodeNoHolder, ""},
	{node.ErrNoPeers, http.StatusServiceUnavailable, apitype.CodeNoPeers, "no connected peer to sync with; check `grapevine peers` and the bootstrap list"},
	{node.ErrCanceled, statusCanceled, apitype.CodeCanceled, ""},
	{node.ErrSync, http.StatusBadGateway, apitype.CodeSyncFailed, ""},
	{node.ErrNetwork, http.StatusServiceUnavailable, apitype.CodeUnavailable, ""},
	{node.ErrStorage, http.StatusInternalServerError, apitype.CodeStorageFailure, ""},
	{node.ErrInvalidConfig, http.StatusInternalServerError, apitype.CodeInternal, ""},
	{node.ErrAlreadyStarted, http.StatusInternalServerError, apitype.CodeInternal, ""},
}

// apiError returns the answer to err: err itself if it is an
// *apitype.Error (the server's own refusals), the table's entry for a node
// sentinel, or internal for anything else.
func apiError(err error) *apitype.Error {
	var e *apitype.Error
	if errors.As(err, &e) {
		return e
	}
	for _, m := range errorTable {
		if errors.Is(err, m.sentinel) {
			msg := m.message
			if msg == "" {
				// The code already says what the sentinel says: keep the
				// detail ("node: forbidden: this peer ..." → "this peer ...").
				msg = strings.TrimPrefix(err.Error(), m.sentinel.Error()+": ")
			}
			out := &apitype.Error{Status: m.status, Code: m.code, Message: msg}
			var ce *node.ConditionError
			if errors.As(err, &ce) {
				out.Version = uint64(ce.Current)
			}
			return out
		}
	}
	return errorf(http.StatusInternalServerError, apitype.CodeInternal, "internal error: %v", err)
}

func errorf(status int, code, format string, args ...any) *apitype.Error {
	return &apitype.Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

var errMethod = errorf(http.StatusMethodNotAllowed, apitype.CodeMethodNotAllowed, "method not allowed")

// ErrorOf returns how the HTTP API answers err: its status, stable code
// and message (and a failed condition's current version). The other doors
// (gRPC) use its code and message, so an error reads the same whichever
// way a client came in.
func ErrorOf(err error) *apitype.Error { return apiError(err) }
