package wire

import (
	"google.golang.org/protobuf/encoding/protowire"
)

// ForwardProtocol returns the libp2p protocol on which a peer that does not
// replicate a namespace forwards a request for it to a peer that does
// ("/grapevine/<network>/forward/1"). A stream carries one request frame
// (FrameForwardRequest) and one answer frame (FrameForwardResponse), each
// at most MaxFrameSize: a value larger than about 5 MiB is not forwarded.
func ForwardProtocol(network string) string { return ProtocolPrefix(network) + "/forward/1" }

// The frames of a ForwardProtocol stream.
const (
	FrameForwardRequest  FrameKind = 16 // a ForwardRequest
	FrameForwardResponse FrameKind = 17 // a ForwardResponse
)

// ForwardOp is the operation a forwarded request asks for.
type ForwardOp uint8

// The forwarded operations.
const (
	ForwardGet     ForwardOp = 1  // read a register
	ForwardPut     ForwardOp = 2  // write a register
	ForwardDelete  ForwardOp = 3  // delete a register
	ForwardIncr    ForwardOp = 4  // add By to a counter
	ForwardCounter ForwardOp = 5  // read a counter
	ForwardList    ForwardOp = 6  // a page of keys (Prefix, After, Limit)
	ForwardTypes   ForwardOp = 7  // the types a key holds
	ForwardReset   ForwardOp = 8  // reset a counter
	ForwardSetAdd  ForwardOp = 9  // add Members to a set
	ForwardSetDel  ForwardOp = 10 // remove Members from a set
	ForwardMembers ForwardOp = 11 // read a set's members
	ForwardHas     ForwardOp = 12 // whether Members[0] is in a set
	ForwardTxn     ForwardOp = 13 // a transaction (Txn), all or nothing
	maxForwardOp             = ForwardTxn
)

// keyless reports whether op names no key of its own (a listing, or a
// transaction whose ops carry theirs).
func (op ForwardOp) keyless() bool { return op == ForwardList || op == ForwardTxn }

// ForwardRequest is one forwarded request:
//
//	message ForwardRequest {
//	  uint32 op = 1; string namespace = 2; bytes key = 3; bytes value = 4; sint64 by = 5;
//	  bytes prefix = 6; bytes after = 7; uint32 limit = 8; repeated bytes members = 9;
//	  uint64 if_version = 10; bool if_absent = 11; int64 ttl_nanos = 12;
//	  repeated ForwardTxnOp txn = 13;
//	}
type ForwardRequest struct {
	Op        ForwardOp
	Namespace string
	Key       []byte   // every op but ForwardList and ForwardTxn
	Value     []byte   // ForwardPut
	By        int64    // ForwardIncr
	Prefix    []byte   // ForwardList
	After     []byte   // ForwardList
	Limit     uint32   // ForwardList
	Members   [][]byte // ForwardSetAdd, ForwardSetDel, ForwardHas
	ForwardCond
	Txn []ForwardTxnOp // ForwardTxn
}

// Marshal encodes r.
func (r ForwardRequest) Marshal() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(r.Op))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, r.Namespace)
	b = appendBytes(b, 3, r.Key)
	b = appendBytes(b, 4, r.Value)
	b = appendVarint(b, 5, protowire.EncodeZigZag(r.By))
	b = appendBytes(b, 6, r.Prefix)
	b = appendBytes(b, 7, r.After)
	b = appendVarint(b, 8, uint64(r.Limit))
	for _, m := range r.Members {
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	b = r.ForwardCond.append(b, 10)
	for _, op := range r.Txn {
		b = appendBytes(b, 13, op.marshal())
	}
	return b
}

// UnmarshalForwardRequest decodes a ForwardRequest: the op must be known,
// the namespace 1..MaxNamespaceLen bytes (the caller checks its
// characters), the key 1..MaxKeyLen bytes (none for ForwardList and
// ForwardTxn), a transaction's keys 1..MaxKeyLen bytes. Unknown fields are
// skipped; errors wrap ErrMalformed. The result does not alias b.
func UnmarshalForwardRequest(b []byte) (ForwardRequest, error) {
	var r ForwardRequest
	var bad error
	err := consumeFields(b, "forward request", func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
		if r.ForwardCond.consume(num, 10, typ, x) {
			return
		}
		switch {
		case num == 1 && typ == protowire.VarintType:
			r.Op = ForwardOp(min(x, 255))
		case num == 2 && typ == protowire.BytesType:
			r.Namespace = string(v)
		case num == 3 && typ == protowire.BytesType:
			r.Key = append([]byte{}, v...)
		case num == 4 && typ == protowire.BytesType:
			r.Value = append([]byte{}, v...)
		case num == 5 && typ == protowire.VarintType:
			r.By = protowire.DecodeZigZag(x)
		case num == 6 && typ == protowire.BytesType:
			r.Prefix = append([]byte{}, v...)
		case num == 7 && typ == protowire.BytesType:
			r.After = append([]byte{}, v...)
		case num == 8 && typ == protowire.VarintType:
			r.Limit = uint32(min(x, 1<<32-1))
		case num == 9 && typ == protowire.BytesType:
			r.Members = append(r.Members, append([]byte{}, v...))
		case num == 13 && typ == protowire.BytesType:
			op, err := unmarshalForwardTxnOp(v)
			if err != nil && bad == nil {
				bad = err
			}
			r.Txn = append(r.Txn, op)
		}
	})
	switch {
	case err != nil:
		return ForwardRequest{}, err
	case bad != nil:
		return ForwardRequest{}, bad
	case r.Op == 0 || r.Op > maxForwardOp:
		return ForwardRequest{}, malformed("forward request: unknown op %d", r.Op)
	case len(r.Namespace) == 0 || len(r.Namespace) > MaxNamespaceLen:
		return ForwardRequest{}, malformed("forward request: namespace of %d bytes (want 1..%d)", len(r.Namespace), MaxNamespaceLen)
	case r.Op.keyless() && len(r.Key) != 0:
		return ForwardRequest{}, malformed("forward request: op %d takes no key", r.Op)
	case !r.Op.keyless() && (len(r.Key) == 0 || len(r.Key) > MaxKeyLen):
		return ForwardRequest{}, malformed("forward request: key of %d bytes (want 1..%d)", len(r.Key), MaxKeyLen)
	}
	return r, nil
}

// ForwardResponse is the answer to a forwarded request:
//
//	message ForwardResponse {
//	  uint32 status = 1; string error = 2; bytes value = 3; uint64 version = 4;
//	  string origin = 5; int64 expires_millis = 6; sint64 counter = 7;
//	  repeated ForwardEntry entries = 8; bytes next = 9; repeated uint32 types = 10;
//	  repeated bytes members = 11; bool contains = 12;
//	  repeated ForwardTxnResult txn = 13; bytes cond_key = 14; string cond_want = 15;
//	  string cond_op = 16;
//	}
//
// Status 0 is success; any other is the serving peer's error, whose
// meaning the node defines (node's forward codes), with its text in Error.
type ForwardResponse struct {
	Status        uint32
	Error         string
	Value         []byte
	Version       uint64 // a register's version; a failed condition's current one
	Origin        string
	ExpiresMillis int64
	Counter       int64
	Entries       []ForwardEntry     // ForwardList
	Next          []byte             // ForwardList: the next page's After
	Types         []uint8            // ForwardTypes: crdt.Type values
	Members       [][]byte           // ForwardMembers
	Contains      bool               // ForwardHas
	Txn           []ForwardTxnResult // ForwardTxn, one per op
	// A failed condition: the key, the condition and the transaction op.
	CondKey  []byte
	CondWant string
	CondOp   string
}

// Marshal encodes r.
func (r ForwardResponse) Marshal() []byte {
	var b []byte
	if r.Status != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(r.Status))
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, r.Error)
	}
	if len(r.Value) > 0 {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, r.Value)
	}
	if r.Version != 0 {
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, r.Version)
	}
	if r.Origin != "" {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendString(b, r.Origin)
	}
	if r.ExpiresMillis != 0 {
		b = protowire.AppendTag(b, 6, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(r.ExpiresMillis))
	}
	b = appendVarint(b, 7, protowire.EncodeZigZag(r.Counter))
	for _, e := range r.Entries {
		b = appendBytes(b, 8, e.marshal())
	}
	b = appendBytes(b, 9, r.Next)
	for _, t := range r.Types {
		b = protowire.AppendTag(b, 10, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(t))
	}
	for _, m := range r.Members {
		b = protowire.AppendTag(b, 11, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	if r.Contains {
		b = appendVarint(b, 12, 1)
	}
	for _, t := range r.Txn {
		b = appendBytes(b, 13, t.marshal())
	}
	b = appendBytes(b, 14, r.CondKey)
	b = appendBytes(b, 15, []byte(r.CondWant))
	return appendBytes(b, 16, []byte(r.CondOp))
}

// UnmarshalForwardResponse decodes a ForwardResponse. Unknown fields are
// skipped; errors wrap ErrMalformed. The result does not alias b.
func UnmarshalForwardResponse(b []byte) (ForwardResponse, error) {
	var r ForwardResponse
	var bad error
	keep := func(err error) {
		if err != nil && bad == nil {
			bad = err
		}
	}
	err := consumeFields(b, "forward response", func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
		switch {
		case num == 1 && typ == protowire.VarintType:
			r.Status = uint32(min(x, 1<<32-1))
		case num == 2 && typ == protowire.BytesType:
			r.Error = string(v)
		case num == 3 && typ == protowire.BytesType:
			r.Value = append([]byte{}, v...)
		case num == 4 && typ == protowire.VarintType:
			r.Version = x
		case num == 5 && typ == protowire.BytesType:
			r.Origin = string(v)
		case num == 6 && typ == protowire.VarintType:
			r.ExpiresMillis = int64(x)
		case num == 7 && typ == protowire.VarintType:
			r.Counter = protowire.DecodeZigZag(x)
		case num == 8 && typ == protowire.BytesType:
			e, err := unmarshalForwardEntry(v)
			keep(err)
			r.Entries = append(r.Entries, e)
		case num == 9 && typ == protowire.BytesType:
			r.Next = append([]byte{}, v...)
		case num == 10 && typ == protowire.VarintType:
			r.Types = append(r.Types, uint8(min(x, 255)))
		case num == 11 && typ == protowire.BytesType:
			r.Members = append(r.Members, append([]byte{}, v...))
		case num == 12 && typ == protowire.VarintType:
			r.Contains = x != 0
		case num == 13 && typ == protowire.BytesType:
			t, err := unmarshalForwardTxnResult(v)
			keep(err)
			r.Txn = append(r.Txn, t)
		case num == 14 && typ == protowire.BytesType:
			r.CondKey = append([]byte{}, v...)
		case num == 15 && typ == protowire.BytesType:
			r.CondWant = string(v)
		case num == 16 && typ == protowire.BytesType:
			r.CondOp = string(v)
		}
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return ForwardResponse{}, err
	}
	return r, nil
}

// consumeFields walks the fields of a message, calling fn with each
// field's bytes (for BytesType) or varint (for VarintType); other wire
// types are skipped.
func consumeFields(b []byte, what string, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed("%s: bad tag: %v", what, protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return malformed("%s: field %d: %v", what, num, protowire.ParseError(n))
			}
			fn(num, typ, v, 0)
			b = b[n:]
		case protowire.VarintType:
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return malformed("%s: field %d: %v", what, num, protowire.ParseError(n))
			}
			fn(num, typ, nil, x)
			b = b[n:]
		default:
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return malformed("%s: field %d: %v", what, num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return nil
}
