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
	ForwardGet     ForwardOp = 1 // read a register
	ForwardPut     ForwardOp = 2 // write a register
	ForwardDelete  ForwardOp = 3 // delete a register
	ForwardIncr    ForwardOp = 4 // add By to a counter
	ForwardCounter ForwardOp = 5 // read a counter
	maxForwardOp             = ForwardCounter
)

// ForwardRequest is one forwarded request:
//
//	message ForwardRequest {
//	  uint32 op = 1; string namespace = 2; bytes key = 3; bytes value = 4; sint64 by = 5;
//	}
type ForwardRequest struct {
	Op        ForwardOp
	Namespace string
	Key       []byte
	Value     []byte // ForwardPut
	By        int64  // ForwardIncr
}

// Marshal encodes r.
func (r ForwardRequest) Marshal() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(r.Op))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, r.Namespace)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, r.Key)
	if len(r.Value) > 0 {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, r.Value)
	}
	if r.By != 0 {
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(r.By))
	}
	return b
}

// UnmarshalForwardRequest decodes a ForwardRequest: the op must be known,
// the namespace 1..MaxNamespaceLen bytes (the caller checks its
// characters), the key 1..MaxKeyLen bytes. Unknown fields are skipped;
// errors wrap ErrMalformed. The result does not alias b.
func UnmarshalForwardRequest(b []byte) (ForwardRequest, error) {
	var r ForwardRequest
	err := consumeFields(b, "forward request", func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
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
		}
	})
	switch {
	case err != nil:
		return ForwardRequest{}, err
	case r.Op == 0 || r.Op > maxForwardOp:
		return ForwardRequest{}, malformed("forward request: unknown op %d", r.Op)
	case len(r.Namespace) == 0 || len(r.Namespace) > MaxNamespaceLen:
		return ForwardRequest{}, malformed("forward request: namespace of %d bytes (want 1..%d)", len(r.Namespace), MaxNamespaceLen)
	case len(r.Key) == 0 || len(r.Key) > MaxKeyLen:
		return ForwardRequest{}, malformed("forward request: key of %d bytes (want 1..%d)", len(r.Key), MaxKeyLen)
	}
	return r, nil
}

// ForwardResponse is the answer to a forwarded request:
//
//	message ForwardResponse {
//	  uint32 status = 1; string error = 2; bytes value = 3; uint64 version = 4;
//	  string origin = 5; int64 expires_millis = 6; sint64 counter = 7;
//	}
//
// Status 0 is success; any other is the serving peer's error, whose
// meaning the node defines (node's forward codes), with its text in Error.
type ForwardResponse struct {
	Status        uint32
	Error         string
	Value         []byte
	Version       uint64
	Origin        string
	ExpiresMillis int64
	Counter       int64
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
	if r.Counter != 0 {
		b = protowire.AppendTag(b, 7, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(r.Counter))
	}
	return b
}

// UnmarshalForwardResponse decodes a ForwardResponse. Unknown fields are
// skipped; errors wrap ErrMalformed. The result does not alias b.
func UnmarshalForwardResponse(b []byte) (ForwardResponse, error) {
	var r ForwardResponse
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
		}
	})
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
