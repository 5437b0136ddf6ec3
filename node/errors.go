package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/gossip"
	"github.com/grapevine-kv/grapevine/peer"
	"github.com/grapevine-kv/grapevine/storage"
)

// Errors returned by Node methods; match them with errors.Is. Every error
// a Node method returns is one of these or wraps one (with its cause), so a
// caller — the HTTP API, the CLI, an embedding program — maps a small,
// closed set whatever layer the failure came from.
var (
	// ErrNotFound: the key is absent or deleted.
	ErrNotFound = errors.New("node: key not found")
	// ErrInvalidKey: a key is empty or longer than wire.MaxKeyLen.
	ErrInvalidKey = errors.New("node: invalid key")
	// ErrInvalidNamespace: a namespace name breaks the naming rule.
	ErrInvalidNamespace = errors.New("node: invalid namespace")
	// ErrValueTooLarge: a value exceeds Config.MaxValueSize.
	ErrValueTooLarge = errors.New("node: value too large")
	// ErrOverflow: an increment would take a counter past int64.
	ErrOverflow = errors.New("node: counter overflow")
	// ErrInvalidConfig: New was given a Config that Validate refuses.
	ErrInvalidConfig = errors.New("node: invalid config")
	// ErrAlreadyStarted: Start was called twice, or after Close.
	ErrAlreadyStarted = errors.New("node: already started")
	// ErrClosed: the node was closed; every method returns it after Close.
	ErrClosed = errors.New("node: closed")
	// ErrNoPeers: Sync found no connected peer.
	ErrNoPeers = errors.New("node: no connected peer to sync with")
	// ErrCanceled: the caller's context ended before the operation did.
	// It also wraps the context's error (context.Canceled or
	// context.DeadlineExceeded).
	ErrCanceled = errors.New("node: canceled")
	// ErrSync: an anti-entropy round with a peer failed (the peer went
	// away, refused, or broke the protocol).
	ErrSync = errors.New("node: sync failed")
	// ErrNetwork: the libp2p side failed to start (listen, DHT, gossip).
	ErrNetwork = errors.New("node: network failure")
	// ErrStorage: the local database failed (I/O error, corrupt data).
	ErrStorage = errors.New("node: storage failure")
	// ErrForbidden: a write to a namespace with a writer list
	// (Config.Writers) that this peer is not on. It also wraps the reason
	// a state from another peer was refused there (never returned by a
	// method: such a state is dropped and counted).
	ErrForbidden = errors.New("node: forbidden")
	// ErrPreconditionFailed: a conditional write's condition (a version,
	// or absence) did not hold on this peer; nothing changed. The error is
	// a *ConditionError, which says the key's current version.
	ErrPreconditionFailed = errors.New("node: precondition failed")
	// ErrInvalidArgument: a write's options or a transaction's ops are
	// malformed (a negative TTL, both a version and absence required, a
	// transaction without ops, an unknown op, a condition on an
	// increment, a set member empty or too long); nothing changed.
	ErrInvalidArgument = errors.New("node: invalid argument")
	// ErrTxnTooLarge: a transaction has more than MaxTxnOps ops or more
	// than MaxTxnBytes of keys and values; nothing changed.
	ErrTxnTooLarge = errors.New("node: transaction too large")
	// ErrCompacted: WatchSince was given a change index whose later
	// changes are no longer all in the change log (trimmed, see
	// storage.Config.ChangeLogEntries), or one ahead of this peer's last
	// index (it came from another peer). Read the keys again, then watch
	// since LastIndex.
	ErrCompacted = errors.New("node: change index compacted")
	// ErrNoHolder: a request for a namespace this peer does not replicate
	// (Config.Namespaces) found no peer holding it to forward to: none
	// advertises it in the DHT, or none answered.
	ErrNoHolder = errors.New("node: no peer holds the namespace")
)

// Errors lists every sentinel above, for tests and for callers that map
// them exhaustively (the API's table is checked against it).
var Errors = []error{
	ErrNotFound, ErrInvalidKey, ErrInvalidNamespace, ErrValueTooLarge,
	ErrOverflow, ErrInvalidConfig, ErrAlreadyStarted, ErrClosed, ErrNoPeers,
	ErrCanceled, ErrSync, ErrNetwork, ErrStorage, ErrForbidden, ErrCompacted,
	ErrPreconditionFailed, ErrInvalidArgument, ErrTxnTooLarge, ErrNoHolder,
}

// translate turns an error from a lower layer into one of the node's
// sentinels, keeping the cause. nil stays nil; an error that already is a
// node sentinel is returned as is. def is the sentinel of the layer the
// error came from, used when no more specific one applies.
func translate(err error, def error) error {
	if err == nil {
		return nil
	}
	for _, s := range Errors {
		if errors.Is(err, s) {
			return err
		}
	}
	sentinel := def
	switch {
	case errors.Is(err, storage.ErrClosed), errors.Is(err, gossip.ErrClosed), errors.Is(err, peer.ErrClosed):
		sentinel = ErrClosed
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		sentinel = ErrCanceled
	case errors.Is(err, storage.ErrNotFound):
		sentinel = ErrNotFound
	case errors.Is(err, storage.ErrInvalidKey):
		sentinel = ErrInvalidKey
	case errors.Is(err, storage.ErrInvalidNamespace):
		sentinel = ErrInvalidNamespace
	case errors.Is(err, storage.ErrTooLarge):
		sentinel = ErrValueTooLarge
	case errors.Is(err, crdt.ErrOverflow):
		sentinel = ErrOverflow
	case errors.Is(err, storage.ErrInvalidArgument):
		sentinel = ErrInvalidArgument
	case errors.Is(err, storage.ErrCompacted):
		sentinel = ErrCompacted
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}

// wrap wraps a non-nil err with sentinel.
func wrap(sentinel, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
