package wire

import "google.golang.org/protobuf/encoding/protowire"

// The hello's synced marks (field 3), after AppendHello's namespaces and
// the states frame limit:
//
//	message Hello {
//	  repeated string namespaces = 1;
//	  uint64 states_limit = 2;
//	  repeated Synced synced = 3;
//	}
//	message Synced {
//	  string namespace = 1;
//	  int64 unix_millis = 2; // when the sender last synced the namespace while up to date
//	}
//
// A peer of an older version skips field 3 (UnmarshalHello skips unknown
// fields), and sends none: a peer without a mark is not up to date.

// AppendHelloSynced appends one synced mark to a hello payload.
func AppendHelloSynced(b []byte, namespace string, unixMillis int64) []byte {
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.BytesType)
	m = protowire.AppendString(m, namespace)
	m = protowire.AppendTag(m, 2, protowire.VarintType)
	m = protowire.AppendVarint(m, uint64(unixMillis))
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// UnmarshalHelloSynced decodes the synced marks of a hello payload
// (namespace → unix milliseconds), skipping every other field. A
// namespace must be 1..MaxNamespaceLen bytes and at most
// MaxHelloNamespaces marks may be listed; a repeated namespace keeps its
// last mark. Errors wrap ErrMalformed. The result does not alias b.
func UnmarshalHelloSynced(b []byte) (map[string]int64, error) {
	out := make(map[string]int64)
	n := 0
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return nil, malformed("hello: bad tag: %v", protowire.ParseError(k))
		}
		b = b[k:]
		if num != 3 || typ != protowire.BytesType {
			k = protowire.ConsumeFieldValue(num, typ, b)
			if k < 0 {
				return nil, malformed("hello: field %d: %v", num, protowire.ParseError(k))
			}
			b = b[k:]
			continue
		}
		m, k := protowire.ConsumeBytes(b)
		if k < 0 {
			return nil, malformed("hello: synced mark: %v", protowire.ParseError(k))
		}
		b = b[k:]
		if n == MaxHelloNamespaces {
			return nil, malformed("hello lists more than %d synced marks", MaxHelloNamespaces)
		}
		n++
		ns, ms, err := unmarshalSynced(m)
		if err != nil {
			return nil, err
		}
		out[ns] = ms
	}
	return out, nil
}

func unmarshalSynced(m []byte) (string, int64, error) {
	var ns []byte
	var ms int64
	for len(m) > 0 {
		num, typ, k := protowire.ConsumeTag(m)
		if k < 0 {
			return "", 0, malformed("hello: synced mark: bad tag: %v", protowire.ParseError(k))
		}
		m = m[k:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, k := protowire.ConsumeBytes(m)
			if k < 0 {
				return "", 0, malformed("hello: synced mark: namespace: %v", protowire.ParseError(k))
			}
			ns, m = v, m[k:]
		case num == 2 && typ == protowire.VarintType:
			v, k := protowire.ConsumeVarint(m)
			if k < 0 {
				return "", 0, malformed("hello: synced mark: time: %v", protowire.ParseError(k))
			}
			ms, m = int64(v), m[k:]
		default:
			k = protowire.ConsumeFieldValue(num, typ, m)
			if k < 0 {
				return "", 0, malformed("hello: synced mark: field %d: %v", num, protowire.ParseError(k))
			}
			m = m[k:]
		}
	}
	if len(ns) == 0 || len(ns) > MaxNamespaceLen {
		return "", 0, malformed("hello: synced mark: namespace of %d bytes (want 1..%d)", len(ns), MaxNamespaceLen)
	}
	return string(ns), ms, nil
}
