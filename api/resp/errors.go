package resp

import (
	"errors"
	"strings"

	"github.com/grapevine-kv/grapevine/node"
)

// errorMapping is how one node sentinel is answered: a RESP error whose
// first word is code (what clients match, as Redis's ERR or WRONGTYPE).
type errorMapping struct {
	sentinel error
	code     string
	message  string // for a person; "" means the error's own detail
}

// errorTable maps every node sentinel (node.Errors) to a RESP error; a
// test checks that none is missing. It is walked in order with errors.Is,
// so ErrClosed comes first. A refused condition (ErrPreconditionFailed)
// is not an error for SET NX/XX, which answer nil as Redis does; it is
// here for MSET and for completeness.
var errorTable = []errorMapping{
	{node.ErrClosed, "ERR", "the peer is shutting down; retry another peer"},
	{node.ErrNotFound, "ERR", "key not found"},
	{node.ErrForbidden, "NOPERM", ""},
	{node.ErrCompacted, "ERR", ""},
	{node.ErrInvalidKey, "ERR", ""},
	{node.ErrInvalidNamespace, "ERR", ""},
	{node.ErrInvalidArgument, "ERR", ""},
	{node.ErrValueTooLarge, "ERR", ""},
	{node.ErrPreconditionFailed, "ERR", ""},
	{node.ErrTxnTooLarge, "ERR", ""},
	{node.ErrOverflow, "ERR", "increment or decrement would overflow"},
	{node.ErrNoPeers, "ERR", "no connected peer to sync with"},
	{node.ErrNoHolder, "ERR", "no reachable peer holds this namespace"},
	{node.ErrCanceled, "ERR", ""},
	{node.ErrSync, "ERR", ""},
	{node.ErrNetwork, "ERR", ""},
	{node.ErrStorage, "ERR", ""},
	{node.ErrInvalidConfig, "ERR", ""},
	{node.ErrAlreadyStarted, "ERR", ""},
}

// errWrongType is the answer to a command on a name that holds another
// type (see the package documentation). Its text starts with Redis's.
var errWrongType = errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")

// errorReply returns the RESP error that answers err (without the leading
// '-'): the table's entry for a node sentinel, ERR for anything else.
func errorReply(err error) string {
	if errors.Is(err, errWrongType) {
		return err.Error()
	}
	for _, m := range errorTable {
		if errors.Is(err, m.sentinel) {
			msg := m.message
			if msg == "" {
				// "node: value too large: 9 bytes exceeds ..." → "value too large: 9 bytes exceeds ..."
				msg = strings.TrimPrefix(err.Error(), "node: ")
			}
			return m.code + " " + oneLine(msg)
		}
	}
	return "ERR internal error: " + oneLine(err.Error())
}

// oneLine makes msg fit a RESP simple error (no CR or LF).
func oneLine(msg string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(msg)
}
