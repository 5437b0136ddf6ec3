// Package wire holds every wire format grapevine peers exchange and every
// limit on them, in protobuf wire format (written with protowire, no
// generated code). It ranks below gossip, so that gossip and the test peers
// that send hostile input (internal/chaos) use the same definitions.
//
// Gossip messages and chunks of synced states are batches:
//
//	message Batch { string namespace = 1; repeated Delta deltas = 2; bool txn = 3; }
//	message Delta { bytes key = 1; bytes state = 2; }  // state: crdt.Encode
//
// A SyncProtocol stream is a sequence of frames: uvarint(length), then
// length bytes, the first of which is the FrameKind and the rest the
// payload (at most MaxFrameSize in all, except a states frame: up to the
// limit its reader states in its hello, StatesFrameLimit of its largest
// value, so that every state travels whole in one frame). It opens with a
// hello each way:
//
//	message Hello { repeated string namespaces = 1; uint64 states_limit = 2; repeated Synced synced = 3; }
//
// Gossip messages are split at GossipBatchTarget and refused above
// MaxGossipMessage.
//
// Decoders enforce size limits and validate every state, so a hostile
// message is rejected whole with an error wrapping ErrMalformed.
package wire

import (
	"errors"
	"fmt"

	"github.com/grapevine-kv/grapevine/crdt"
	"google.golang.org/protobuf/encoding/protowire"
)

// Limits on decoded batches.
const (
	MaxKeyLen          = 4096
	MaxNamespaceLen    = 64
	MaxDeltasPerBatch  = 1 << 16
	MaxBatchSize       = MaxStatesFrame // bytes; gossip messages are far smaller (MaxGossipMessage)
	deltaFieldOverhead = 2 * 2          // two tags of one byte and minimal lengths
)

// Topic returns the GossipSub topic of a network's namespace:
// "/grapevine/<network>/<namespace>".
func Topic(network, namespace string) string {
	return "/grapevine/" + network + "/" + namespace
}

// NamespacesTopic returns the GossipSub topic on which the peers of a
// network announce namespaces: "/grapevine/<network>/_namespaces/1". A
// message there is a Batch, like on a namespace's topic: a peer publishes
// the first batch it writes to a namespace there (and the next ones, until
// every peer it knows on this topic has joined the namespace's topic), and
// a receiver joins the namespace's topic and applies the batch. The name
// has a slash after "_namespaces", which no namespace name has, so it is
// never a namespace's Topic.
func NamespacesTopic(network string) string {
	return "/grapevine/" + network + "/_namespaces/1"
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("wire: malformed message")

// Delta is one key's state in a batch.
type Delta struct {
	Key   []byte
	State crdt.State
}

// Batch is a group of deltas of one namespace: the unit of gossip.
type Batch struct {
	Namespace string
	Deltas    []Delta
	// Txn marks the deltas of one atomic transaction, published as one
	// message: a receiver applies them all or none, in one storage
	// transaction. A peer that predates the field applies them as a
	// plain batch (it skips the unknown field).
	Txn bool
}

// DeltaSize returns the number of bytes d adds to an encoded batch.
func DeltaSize(key []byte, state []byte) int {
	inner := protowire.SizeTag(1) + protowire.SizeBytes(len(key)) +
		protowire.SizeTag(2) + protowire.SizeBytes(len(state))
	return protowire.SizeTag(2) + protowire.SizeBytes(inner)
}

// AppendHeader appends the batch header (the namespace field).
func AppendHeader(b []byte, namespace string) []byte {
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendString(b, namespace)
}

// AppendTxn appends the txn field (Batch.Txn set).
func AppendTxn(b []byte) []byte {
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	return protowire.AppendVarint(b, 1)
}

// AppendDelta appends one encoded delta (key and crdt.Encode'd state).
func AppendDelta(b, key, state []byte) []byte {
	inner := protowire.SizeTag(1) + protowire.SizeBytes(len(key)) +
		protowire.SizeTag(2) + protowire.SizeBytes(len(state))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(inner))
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, key)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, state)
}

// Marshal encodes a batch.
func (bt Batch) Marshal() []byte {
	b := AppendHeader(nil, bt.Namespace)
	if bt.Txn {
		b = AppendTxn(b)
	}
	for _, d := range bt.Deltas {
		b = AppendDelta(b, d.Key, crdt.Encode(d.State))
	}
	return b
}

// Unmarshal decodes a batch. Unknown fields are skipped (for forward
// compatibility); everything else must be valid. The result does not alias b.
func Unmarshal(b []byte) (Batch, error) {
	var bt Batch
	if len(b) > MaxBatchSize {
		return bt, malformed("batch of %d bytes exceeds %d", len(b), MaxBatchSize)
	}
	seenNS := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return bt, malformed("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return bt, malformed("namespace: %v", protowire.ParseError(n))
			}
			if len(v) == 0 || len(v) > MaxNamespaceLen {
				return bt, malformed("namespace of %d bytes", len(v))
			}
			if seenNS {
				return bt, malformed("namespace given twice")
			}
			bt.Namespace, seenNS, b = string(v), true, b[n:]
		case num == 3 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return bt, malformed("txn flag: %v", protowire.ParseError(n))
			}
			if v > 1 {
				return bt, malformed("txn flag %d is neither 0 nor 1", v)
			}
			bt.Txn, b = v == 1, b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return bt, malformed("delta: %v", protowire.ParseError(n))
			}
			if len(bt.Deltas) == MaxDeltasPerBatch {
				return bt, malformed("more than %d deltas", MaxDeltasPerBatch)
			}
			d, err := unmarshalDelta(v)
			if err != nil {
				return bt, fmt.Errorf("delta %d: %w", len(bt.Deltas), err)
			}
			bt.Deltas, b = append(bt.Deltas, d), b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return bt, malformed("field %d: %v", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if !seenNS {
		return bt, malformed("no namespace")
	}
	return bt, nil
}

func unmarshalDelta(b []byte) (Delta, error) {
	var d Delta
	var state []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return d, malformed("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case (num == 1 || num == 2) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return d, malformed("field %d: %v", num, protowire.ParseError(n))
			}
			b = b[n:]
			if num == 1 {
				d.Key = append([]byte{}, v...)
			} else {
				state = v
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return d, malformed("field %d: %v", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if len(d.Key) == 0 || len(d.Key) > MaxKeyLen {
		return d, malformed("key of %d bytes (want 1..%d)", len(d.Key), MaxKeyLen)
	}
	if state == nil {
		return d, malformed("delta without state")
	}
	s, err := crdt.Decode(state)
	if err != nil {
		return d, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	d.State = s
	return d, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}
