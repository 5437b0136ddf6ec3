package wire

import (
	"github.com/klauspost/compress/s2"
	"google.golang.org/protobuf/encoding/protowire"
)

// States frames are compressed with S2 (github.com/klauspost/compress/s2,
// block format) when the reader's hello says it reads FrameStatesS2
// (field 6). A chunk of states repeats much: each register carries its
// writer's peer ID (38 bytes), stamps share their high bytes, keys share
// prefixes. S2 takes those out at several hundred MB/s, so a bootstrap
// receives about the keys and values and little more.

// AppendHelloS2 appends field 6 (reads FrameStatesS2) to a hello payload.
func AppendHelloS2(b []byte) []byte {
	b = protowire.AppendTag(b, 6, protowire.VarintType)
	return protowire.AppendVarint(b, 1)
}

// HelloS2 reports whether a hello payload sets field 6. A malformed
// payload is an error wrapping ErrMalformed.
func HelloS2(b []byte) (bool, error) {
	v, _, err := helloVarint(b, 6, "s2")
	return v != 0, err
}

// CompressStates returns the frame to send for the states payload p
// (Marshal's encoding of a Batch) to a peer that reads FrameStatesS2:
// FrameStatesS2 and p compressed into dst when that is smaller, else
// FrameStates and p itself.
func CompressStates(dst, p []byte) (FrameKind, []byte) {
	c := s2.Encode(dst[:cap(dst)], p)
	if len(c) >= len(p) {
		return FrameStates, p
	}
	return FrameStatesS2, c
}

// StatesPayload returns the states payload of a FrameStates frame (p
// itself) or of a FrameStatesS2 frame (p decompressed into dst). A
// compressed payload that does not decode, or that would decode to more
// than limit bytes (checked before decoding), is an error wrapping
// ErrMalformed.
func StatesPayload(kind FrameKind, p, dst []byte, limit int) ([]byte, error) {
	if kind != FrameStatesS2 {
		return p, nil
	}
	n, err := s2.DecodedLen(p)
	if err != nil {
		return nil, malformed("compressed states: %v", err)
	}
	if n > limit {
		return nil, malformed("compressed states decode to %d bytes (limit %d)", n, limit)
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	out, err := s2.Decode(dst[:n], p)
	if err != nil {
		return nil, malformed("compressed states: %v", err)
	}
	return out, nil
}

// helloStrings returns the values of the repeated bytes field num of a
// hello payload, at most max, each accepted by check; what names one in
// errors, which wrap ErrMalformed. The result does not alias b.
func helloStrings(b []byte, num protowire.Number, what string, max int, check func(string) error) ([]string, error) {
	var out []string
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, malformed("hello: bad tag: %v", protowire.ParseError(l))
		}
		b = b[l:]
		if n != num || typ != protowire.BytesType {
			if l = protowire.ConsumeFieldValue(n, typ, b); l < 0 {
				return nil, malformed("hello: field %d: %v", n, protowire.ParseError(l))
			}
			b = b[l:]
			continue
		}
		v, l := protowire.ConsumeBytes(b)
		if l < 0 {
			return nil, malformed("hello: %s: %v", what, protowire.ParseError(l))
		}
		b = b[l:]
		if len(out) == max {
			return nil, malformed("hello lists more than %d %ss", max, what)
		}
		if err := check(string(v)); err != nil {
			return nil, malformed("hello: %v", err)
		}
		out = append(out, string(v))
	}
	return out, nil
}

// helloVarint returns the last value of varint field num of a hello
// payload (the last wins, as in protobuf), and whether it is there; what
// names the field in errors, which wrap ErrMalformed.
func helloVarint(b []byte, num protowire.Number, what string) (v uint64, found bool, err error) {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return 0, false, malformed("hello: bad tag: %v", protowire.ParseError(l))
		}
		b = b[l:]
		if n == num && typ == protowire.VarintType {
			x, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return 0, false, malformed("hello: %s: %v", what, protowire.ParseError(l))
			}
			v, found, b = x, true, b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return 0, false, malformed("hello: field %d: %v", n, protowire.ParseError(l))
		}
		b = b[l:]
	}
	return v, found, nil
}
