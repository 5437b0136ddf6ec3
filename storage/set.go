package storage

import (
	"errors"
	"fmt"

	"github.com/grapevine-kv/grapevine/crdt"
)

// SetOp adds Members to, or removes them from, the set at an Op's key, on
// behalf of Origin. The delta depends on the stored set (an add takes
// Origin's next dot, a remove the dots it sees), so Apply computes it.
type SetOp struct {
	Origin  crdt.ReplicaID
	Remove  bool // remove Members; false: add them
	Members [][]byte
	// MaxSize, if positive, is the largest encoded set the op may leave
	// (else ErrTooLarge): the node keeps a set small enough to travel as
	// one state.
	MaxSize int
}

// CounterReset resets the counter at an Op's key on behalf of Origin at
// time Time (observed-reset: see crdt.Counter.Reset). The floors are the
// stored slots, so Apply computes the delta.
type CounterReset struct {
	Origin crdt.ReplicaID
	Time   crdt.Timestamp
}

// checkLocalOp validates the op kinds of this file (Set, Reset) and a Set
// state. ok is false for any other op, which checkOp handles.
func checkLocalOp(op *Op) (typ crdt.Type, delta crdt.State, ok bool, err error) {
	kinds := 0
	for _, set := range []bool{op.State != nil, op.Incr != nil, op.Set != nil, op.Reset != nil} {
		if set {
			kinds++
		}
	}
	switch {
	case op.Set == nil && op.Reset == nil:
		if s, isSet := op.State.(crdt.Set); isSet {
			return crdt.TypeSet, s, true, nil
		}
		return 0, nil, false, nil
	case kinds > 1:
		return 0, nil, true, fmt.Errorf("%w: op has more than one of State, Incr, Set and Reset", ErrInvalidArgument)
	case op.Set != nil:
		if len(op.Set.Origin) > crdt.MaxReplicaIDLen {
			return 0, nil, true, fmt.Errorf("%w: origin of %d bytes", ErrInvalidArgument, len(op.Set.Origin))
		}
		if len(op.Set.Members) == 0 {
			return 0, nil, true, fmt.Errorf("%w: a set op without members", ErrInvalidArgument)
		}
		return crdt.TypeSet, nil, true, nil
	default:
		if len(op.Reset.Origin) > crdt.MaxReplicaIDLen {
			return 0, nil, true, fmt.Errorf("%w: origin of %d bytes", ErrInvalidArgument, len(op.Reset.Origin))
		}
		return crdt.TypeCounter, nil, true, nil
	}
}

// localDelta computes the delta of a Set or Reset op from the stored state
// cur (nil if absent). ok is false for other ops.
func localDelta(op *Op, cur crdt.State) (delta crdt.State, ok bool, err error) {
	switch {
	case op.Set != nil:
		s, _ := cur.(crdt.Set)
		var d crdt.Set
		if op.Set.Remove {
			d, err = s.Remove(op.Set.Members...)
		} else {
			d, err = s.Add(op.Set.Origin, op.Set.Members...)
		}
		if errors.Is(err, crdt.ErrMemberTooLarge) {
			return nil, true, fmt.Errorf("%w: set members are 1 to %d bytes", ErrInvalidArgument, crdt.MaxMemberLen)
		}
		return d, true, err
	case op.Reset != nil:
		c, _ := cur.(crdt.Counter)
		return c.Reset(op.Reset.Origin, op.Reset.Time), true, nil
	}
	return nil, false, nil
}

// emptyDelta reports whether merging d can change nothing (an empty
// counter or set delta, e.g. a reset of an absent counter or a remove of a
// non-member).
func emptyDelta(d crdt.State) bool {
	switch d := d.(type) {
	case crdt.Counter:
		return d.Len() == 0 && len(d.Resetters()) == 0
	case crdt.Set:
		return d.Empty()
	}
	return false
}

// checkSetSize refuses a Set op whose resulting set encodes to more than
// SetOp.MaxSize bytes (ErrTooLarge).
func checkSetSize(op *Op, enc []byte) error {
	if op.Set != nil && op.Set.MaxSize > 0 && len(enc) > op.Set.MaxSize {
		return fmt.Errorf("%w: the set would take %d bytes, over the limit of %d", ErrTooLarge, len(enc), op.Set.MaxSize)
	}
	return nil
}
