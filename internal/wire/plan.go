package wire

import "google.golang.org/protobuf/encoding/protowire"

// Bulk transfers are accepted by the side that receives them (one peer at a
// time per namespace). A peer that can say so sets hello field 4:
//
//	message Hello {
//	  repeated string namespaces = 1;
//	  uint64 states_limit = 2;
//	  repeated Synced synced = 3;
//	  bool plans = 4; // this side sends and reads a FramePlan per namespace
//	}
//
// When both hellos set it, each side sends, right after a namespace's
// reconciliation and before any states frame of it, one FramePlan:
//
//	message Plan {
//	  bool decline = 1; // send me no states of this namespace in this round
//	  bool sending = 2; // I have states of this namespace to send you
//	}
//
// Both sides write their plan before reading the peer's (no round trip is
// added), and read it before sending states. A peer of an
// older version skips field 4 and sends no plan; the sides then exchange
// states as before.

// AppendHelloPlans appends field 4 (plans = true) to a hello payload.
func AppendHelloPlans(b []byte) []byte {
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	return protowire.AppendVarint(b, 1)
}

// HelloPlans reports whether a hello payload sets field 4 (the last value
// of the field wins, as in protobuf). A malformed payload is an error
// wrapping ErrMalformed.
func HelloPlans(b []byte) (bool, error) {
	v, _, err := helloVarint(b, 4, "plans")
	return v != 0, err
}

// Plan is a FramePlan's payload.
type Plan struct {
	Decline bool // send me no states of this namespace in this round
	Sending bool // I have states of this namespace to send you
}

// AppendPlan appends the payload of a FramePlan.
func AppendPlan(b []byte, p Plan) []byte {
	if p.Decline {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	if p.Sending {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	return b
}

// UnmarshalPlan decodes a FramePlan payload, skipping unknown fields.
// Errors wrap ErrMalformed.
func UnmarshalPlan(b []byte) (Plan, error) {
	var p Plan
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return Plan{}, malformed("plan: bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return Plan{}, malformed("plan: field %d: %v", num, protowire.ParseError(n))
			}
			if num == 1 {
				p.Decline = v != 0
			} else {
				p.Sending = v != 0
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return Plan{}, malformed("plan: field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return p, nil
}
