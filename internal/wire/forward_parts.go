package wire

import "google.golang.org/protobuf/encoding/protowire"

// The nested messages of forwarded requests and answers (forward.go).

// ForwardCond is a forwarded write's condition and TTL (node.WriteOptions),
// fields first..first+2 of the message that holds it:
//
//	uint64 if_version = first; bool if_absent = first+1; int64 ttl_nanos = first+2;
type ForwardCond struct {
	IfVersion uint64 // the key must hold a live value of this version
	IfAbsent  bool   // the key must be absent
	TTLNanos  int64  // the value expires this long after its write
}

func (c ForwardCond) append(b []byte, first protowire.Number) []byte {
	b = appendVarint(b, first, c.IfVersion)
	if c.IfAbsent {
		b = appendVarint(b, first+1, 1)
	}
	return appendVarint(b, first+2, uint64(c.TTLNanos))
}

// consume takes field num if it is one of c's, reporting whether it was.
func (c *ForwardCond) consume(num, first protowire.Number, typ protowire.Type, x uint64) bool {
	if typ != protowire.VarintType {
		return false
	}
	switch num {
	case first:
		c.IfVersion = x
	case first + 1:
		c.IfAbsent = x != 0
	case first + 2:
		c.TTLNanos = int64(x)
	default:
		return false
	}
	return true
}

// ForwardTxnOp is one op of a forwarded transaction (node.TxnOp):
//
//	message ForwardTxnOp {
//	  uint32 kind = 1; bytes key = 2; bytes value = 3; sint64 by = 4;
//	  uint64 if_version = 5; bool if_absent = 6; int64 ttl_nanos = 7;
//	}
type ForwardTxnOp struct {
	Kind  uint8 // node.TxnKind
	Key   []byte
	Value []byte
	By    int64
	ForwardCond
}

func (op ForwardTxnOp) marshal() []byte {
	b := appendVarint(nil, 1, uint64(op.Kind))
	b = appendBytes(b, 2, op.Key)
	b = appendBytes(b, 3, op.Value)
	b = appendVarint(b, 4, protowire.EncodeZigZag(op.By))
	return op.ForwardCond.append(b, 5)
}

func unmarshalForwardTxnOp(b []byte) (ForwardTxnOp, error) {
	var op ForwardTxnOp
	err := consumeFields(b, "forwarded transaction op", func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
		if op.ForwardCond.consume(num, 5, typ, x) {
			return
		}
		switch {
		case num == 1 && typ == protowire.VarintType:
			op.Kind = uint8(min(x, 255))
		case num == 2 && typ == protowire.BytesType:
			op.Key = append([]byte{}, v...)
		case num == 3 && typ == protowire.BytesType:
			op.Value = append([]byte{}, v...)
		case num == 4 && typ == protowire.VarintType:
			op.By = protowire.DecodeZigZag(x)
		}
	})
	if err == nil && (len(op.Key) == 0 || len(op.Key) > MaxKeyLen) {
		err = malformed("forwarded transaction op: key of %d bytes (want 1..%d)", len(op.Key), MaxKeyLen)
	}
	return op, err
}

// ForwardTxnResult is the outcome of one op of a forwarded transaction
// (node.TxnResult):
//
//	message ForwardTxnResult { uint64 version = 1; sint64 counter = 2; }
type ForwardTxnResult struct {
	Version uint64
	Counter int64
}

func (r ForwardTxnResult) marshal() []byte {
	return appendVarint(appendVarint(nil, 1, r.Version), 2, protowire.EncodeZigZag(r.Counter))
}

func unmarshalForwardTxnResult(b []byte) (ForwardTxnResult, error) {
	var r ForwardTxnResult
	err := consumeFields(b, "forwarded transaction result", func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) {
		switch {
		case num == 1 && typ == protowire.VarintType:
			r.Version = x
		case num == 2 && typ == protowire.VarintType:
			r.Counter = protowire.DecodeZigZag(x)
		}
	})
	return r, err
}

// ForwardEntry is one key of a forwarded listing (node.Entry):
//
//	message ForwardEntry {
//	  bytes key = 1; uint32 type = 2; bytes value = 3; uint64 version = 4;
//	  string origin = 5; int64 expires_millis = 6; sint64 counter = 7;
//	  repeated bytes members = 8;
//	}
type ForwardEntry struct {
	Key           []byte
	Type          uint8 // crdt.Type
	Value         []byte
	Version       uint64
	Origin        string
	ExpiresMillis int64
	Counter       int64
	Members       [][]byte
}

func (e ForwardEntry) marshal() []byte {
	b := appendBytes(nil, 1, e.Key)
	b = appendVarint(b, 2, uint64(e.Type))
	b = appendBytes(b, 3, e.Value)
	b = appendVarint(b, 4, e.Version)
	b = appendBytes(b, 5, []byte(e.Origin))
	b = appendVarint(b, 6, uint64(e.ExpiresMillis))
	b = appendVarint(b, 7, protowire.EncodeZigZag(e.Counter))
	for _, m := range e.Members {
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	return b
}

func unmarshalForwardEntry(b []byte) (ForwardEntry, error) {
	var e ForwardEntry
	err := consumeFields(b, "forwarded entry", func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
		switch {
		case num == 1 && typ == protowire.BytesType:
			e.Key = append([]byte{}, v...)
		case num == 2 && typ == protowire.VarintType:
			e.Type = uint8(min(x, 255))
		case num == 3 && typ == protowire.BytesType:
			e.Value = append([]byte{}, v...)
		case num == 4 && typ == protowire.VarintType:
			e.Version = x
		case num == 5 && typ == protowire.BytesType:
			e.Origin = string(v)
		case num == 6 && typ == protowire.VarintType:
			e.ExpiresMillis = int64(x)
		case num == 7 && typ == protowire.VarintType:
			e.Counter = protowire.DecodeZigZag(x)
		case num == 8 && typ == protowire.BytesType:
			e.Members = append(e.Members, append([]byte{}, v...))
		}
	})
	return e, err
}

// appendBytes appends field num unless v is empty (proto3's default).
func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// appendVarint appends field num unless x is 0 (proto3's default).
func appendVarint(b []byte, num protowire.Number, x uint64) []byte {
	if x == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, x)
}
