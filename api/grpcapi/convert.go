package grpcapi

import (
	"fmt"
	"time"

	"github.com/grapevine-kv/grapevine/api/grpcapi/kvpb"
	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/node"
)

// txnKinds maps the proto's op kinds to the node's.
var txnKinds = map[kvpb.TxnOp_Kind]node.TxnKind{
	kvpb.TxnOp_PUT:    node.TxnPut,
	kvpb.TxnOp_DELETE: node.TxnDelete,
	kvpb.TxnOp_INCR:   node.TxnIncr,
}

// typeOf maps a crdt type to the proto's.
func typeOf(t crdt.Type) kvpb.Type {
	switch t {
	case crdt.TypeRegister:
		return kvpb.Type_TYPE_REGISTER
	case crdt.TypeCounter:
		return kvpb.Type_TYPE_COUNTER
	case crdt.TypeSet:
		return kvpb.Type_TYPE_SET
	}
	return kvpb.Type_TYPE_UNSPECIFIED
}

// invalid is a node.ErrInvalidArgument for a malformed request field.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", node.ErrInvalidArgument, fmt.Sprintf(format, args...))
}

// maxTTLMs is the longest TTL a time.Duration holds, in milliseconds.
const maxTTLMs = int64(1<<63-1) / int64(time.Millisecond)

// writeOptions converts a request's condition and TTL; the node checks
// the combination (both a version and absence, a TTL on a delete).
func writeOptions(ifVersion uint64, ifAbsent bool, ttlMs int64) (node.WriteOptions, error) {
	if ttlMs < 0 || ttlMs > maxTTLMs {
		return node.WriteOptions{}, statusError(invalid("ttl_ms must be 0 (no TTL) to %d, got %d", int64(maxTTLMs), ttlMs), nil)
	}
	return node.WriteOptions{IfVersion: crdt.Timestamp(ifVersion), IfAbsent: ifAbsent, TTL: time.Duration(ttlMs) * time.Millisecond}, nil
}

// eventOf converts a watch event.
func eventOf(e node.Event) *kvpb.Event {
	return &kvpb.Event{Namespace: e.Namespace, Key: e.Key, Type: typeOf(e.Type), Value: e.Value.Data,
		Version: uint64(e.Value.Version), Deleted: e.Deleted, Expired: e.Expired, Counter: e.Counter,
		CounterReset: e.Reset, Members: e.Members, Index: e.Index, Dropped: e.Dropped}
}
