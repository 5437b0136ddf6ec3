package resp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/tidwall/redcon"
)

// Strings (grapevine registers) and counters: GET SET DEL EXISTS MGET MSET
// INCR INCRBY DECR DECRBY. See the package documentation for how the two
// types share the key space.

// holds is what a name holds in the current namespace.
type holds struct{ register, counter, set bool }

func (h holds) any() bool { return h.register || h.counter || h.set }

// holding returns what key holds (only among those types, if given).
func (s *session) holding(ctx context.Context, key []byte, among ...crdt.Type) (holds, error) {
	types, err := s.srv.node.Types(ctx, s.ns, key, among...)
	var h holds
	for _, t := range types {
		switch t {
		case crdt.TypeRegister:
			h.register = true
		case crdt.TypeCounter:
			h.counter = true
		case crdt.TypeSet:
			h.set = true
		}
	}
	return h, err
}

// wrongType is the error of a command on a name that holds what.
func wrongType(what string) error {
	return fmt.Errorf("%w: the key holds %s; DEL it first or use another key", errWrongType, what)
}

const (
	holdsString  = "a string (SET)"
	holdsCounter = "a counter (INCR; grapevine counters are a type of their own)"
	holdsSet     = "a set (SADD)"
)

// get returns what GET answers for key: a string's value, a counter's
// value in decimal, or found false.
func (s *session) get(ctx context.Context, key []byte) (val []byte, found bool, err error) {
	v, err := s.srv.node.Get(ctx, s.ns, key)
	if err == nil {
		return v.Data, true, nil
	}
	if !errors.Is(err, node.ErrNotFound) {
		return nil, false, err
	}
	h, err := s.holding(ctx, key)
	switch {
	case err != nil:
		return nil, false, err
	case h.counter:
		c, err := s.srv.node.Counter(ctx, s.ns, key)
		if err != nil {
			return nil, false, err
		}
		return strconv.AppendInt(nil, c, 10), true, nil
	case h.set:
		return nil, false, wrongType(holdsSet)
	}
	return nil, false, nil
}

func cmdGet(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	v, found, err := s.get(ctx, args[1])
	switch {
	case err != nil:
		w.WriteError(errorReply(err))
	case !found:
		w.WriteNull()
	default:
		w.WriteBulk(v)
	}
}

// SET key value [NX|XX] [EX seconds|PX milliseconds]: nil when NX or XX
// did not hold, as in Redis.
func cmdSet(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	o, err := parseSetOptions(args[3:])
	if err != nil {
		w.WriteError(err.Error())
		return
	}
	key := args[1]
	among := []crdt.Type{crdt.TypeCounter, crdt.TypeSet} // a string is overwritten
	if o.xx {
		among = nil // XX asks whether it holds a string too
	}
	h, err := s.holding(ctx, key, among...)
	switch {
	case err != nil:
		w.WriteError(errorReply(err))
		return
	case h.counter:
		w.WriteError(errorReply(wrongType(holdsCounter)))
		return
	case h.set:
		w.WriteError(errorReply(wrongType(holdsSet)))
		return
	case o.xx && !h.register:
		w.WriteNull()
		return
	}
	wo := node.WriteOptions{TTL: o.ttl, IfAbsent: o.nx}
	if o.xx {
		cur, err := s.srv.node.Get(ctx, s.ns, key)
		if errors.Is(err, node.ErrNotFound) {
			w.WriteNull()
			return
		}
		if err != nil {
			w.WriteError(errorReply(err))
			return
		}
		wo.IfVersion = cur.Version
	}
	_, err = s.srv.node.PutWith(ctx, s.ns, key, args[2], wo)
	switch {
	case errors.Is(err, node.ErrPreconditionFailed):
		w.WriteNull()
	case err != nil:
		w.WriteError(errorReply(err))
	default:
		w.WriteString("OK")
	}
}

// DEL key...: deletes a string, resets a counter, empties a set; answers
// how many of the keys held something.
func cmdDel(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	n := s.srv.node
	deleted := 0
	for _, key := range args[1:] {
		h, err := s.holding(ctx, key)
		if err == nil && h.register {
			err = n.Delete(ctx, s.ns, key)
		}
		if err == nil && h.counter {
			err = n.ResetCounter(ctx, s.ns, key)
		}
		if err == nil && h.set {
			var members [][]byte
			if members, err = n.SetMembers(ctx, s.ns, key); err == nil && len(members) > 0 {
				err = n.SetRemove(ctx, s.ns, key, members...)
			}
		}
		if err != nil {
			w.WriteError(errorReply(err))
			return
		}
		if h.any() {
			deleted++
		}
	}
	w.WriteInt(deleted)
}

// EXISTS key...: how many of the keys hold something (a key given twice
// counts twice, as in Redis).
func cmdExists(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	count := 0
	for _, key := range args[1:] {
		h, err := s.holding(ctx, key)
		if err != nil {
			w.WriteError(errorReply(err))
			return
		}
		if h.any() {
			count++
		}
	}
	w.WriteInt(count)
}

// MGET key...: nil for a key that holds no string nor counter.
func cmdMGet(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	vals := make([][]byte, len(args)-1)
	for i, key := range args[1:] {
		v, found, err := s.get(ctx, key)
		if errors.Is(err, errWrongType) {
			continue
		}
		if err != nil {
			w.WriteError(errorReply(err))
			return
		}
		if found {
			vals[i] = v
		}
	}
	w.WriteArray(len(vals))
	for _, v := range vals {
		if v == nil {
			w.WriteNull()
		} else {
			w.WriteBulk(v)
		}
	}
}

// MSET key value [key value ...]: one node transaction, all or nothing.
func cmdMSet(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	if len(args)%2 != 1 {
		w.WriteError("ERR wrong number of arguments for 'mset' command")
		return
	}
	ops := make([]node.TxnOp, 0, len(args)/2)
	for i := 1; i < len(args); i += 2 {
		h, err := s.holding(ctx, args[i])
		switch {
		case err != nil:
			w.WriteError(errorReply(err))
			return
		case h.counter:
			w.WriteError(errorReply(fmt.Errorf("%w (key %q)", wrongType(holdsCounter), clip(args[i]))))
			return
		case h.set:
			w.WriteError(errorReply(fmt.Errorf("%w (key %q)", wrongType(holdsSet), clip(args[i]))))
			return
		}
		ops = append(ops, node.TxnOp{Kind: node.TxnPut, Key: args[i], Value: args[i+1]})
	}
	if _, err := s.srv.node.Txn(ctx, s.ns, ops); err != nil {
		w.WriteError(errorReply(err))
		return
	}
	w.WriteString("OK")
}

// incr adds by to the counter key and answers its new value.
func (s *session) incr(ctx context.Context, w *redcon.Writer, key []byte, by int64) {
	h, err := s.holding(ctx, key)
	switch {
	case err != nil:
		w.WriteError(errorReply(err))
		return
	case h.register:
		w.WriteError(errorReply(wrongType(holdsString)))
		return
	case h.set:
		w.WriteError(errorReply(wrongType(holdsSet)))
		return
	}
	v, err := s.srv.node.Incr(ctx, s.ns, key, by)
	if err != nil {
		w.WriteError(errorReply(err))
		return
	}
	w.WriteInt64(v)
}

func cmdIncr(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	s.incr(ctx, w, args[1], 1)
}

func cmdDecr(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	s.incr(ctx, w, args[1], -1)
}

func cmdIncrBy(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	by, err := parseInt(args[2])
	if err != nil {
		w.WriteError(err.Error())
		return
	}
	s.incr(ctx, w, args[1], by)
}

func cmdDecrBy(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	by, err := parseInt(args[2])
	if err != nil {
		w.WriteError(err.Error())
		return
	}
	if by == math.MinInt64 {
		w.WriteError("ERR decrement would overflow")
		return
	}
	s.incr(ctx, w, args[1], -by)
}
