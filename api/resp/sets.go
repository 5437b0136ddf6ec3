package resp

import (
	"context"

	"github.com/tidwall/redcon"
)

// Sets (grapevine add-wins sets): SADD SREM SMEMBERS SISMEMBER.

// setKey checks that key holds a set or nothing and returns the error to
// answer, or "".
func (s *session) setKey(ctx context.Context, key []byte) string {
	h, err := s.holding(ctx, key)
	switch {
	case err != nil:
		return errorReply(err)
	case h.register:
		return errorReply(wrongType(holdsString))
	case h.counter:
		return errorReply(wrongType(holdsCounter))
	}
	return ""
}

// changing returns the distinct members of args whose presence in the set
// key is not want: those SADD adds (want false) or SREM removes (want
// true), as this peer sees them now.
func (s *session) changing(ctx context.Context, key []byte, members [][]byte, want bool) (int, error) {
	seen := make(map[string]bool, len(members))
	n := 0
	for _, m := range members {
		if seen[string(m)] {
			continue
		}
		seen[string(m)] = true
		in, err := s.srv.node.SetContains(ctx, s.ns, key, m)
		if err != nil {
			return 0, err
		}
		if in == want {
			n++
		}
	}
	return n, nil
}

// SADD key member...: answers how many members were not in the set.
func cmdSAdd(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	s.setChange(ctx, w, args, false)
}

// SREM key member...: answers how many members were in the set.
func cmdSRem(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	s.setChange(ctx, w, args, true)
}

func (s *session) setChange(ctx context.Context, w *redcon.Writer, args [][]byte, remove bool) {
	key, members := args[1], args[2:]
	if msg := s.setKey(ctx, key); msg != "" {
		w.WriteError(msg)
		return
	}
	count, err := s.changing(ctx, key, members, remove)
	if err == nil {
		if remove {
			err = s.srv.node.SetRemove(ctx, s.ns, key, members...)
		} else {
			err = s.srv.node.SetAdd(ctx, s.ns, key, members...)
		}
	}
	if err != nil {
		w.WriteError(errorReply(err))
		return
	}
	w.WriteInt(count)
}

func cmdSMembers(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	if msg := s.setKey(ctx, args[1]); msg != "" {
		w.WriteError(msg)
		return
	}
	members, err := s.srv.node.SetMembers(ctx, s.ns, args[1])
	if err != nil {
		w.WriteError(errorReply(err))
		return
	}
	w.WriteArray(len(members))
	for _, m := range members {
		w.WriteBulk(m)
	}
}

func cmdSIsMember(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	if msg := s.setKey(ctx, args[1]); msg != "" {
		w.WriteError(msg)
		return
	}
	in, err := s.srv.node.SetContains(ctx, s.ns, args[1], args[2])
	if err != nil {
		w.WriteError(errorReply(err))
		return
	}
	if in {
		w.WriteInt(1)
	} else {
		w.WriteInt(0)
	}
}
