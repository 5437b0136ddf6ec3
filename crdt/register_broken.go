//go:build grapevine_broken_merge

package crdt

import "bytes"

// compareRegisters is a deliberately broken Register.Compare, built only
// with the grapevine_broken_merge tag: it orders by value bytes first and
// only then by (Time, Origin). It is still a total order, so replicas
// converge, but not on the last write: the fault-injection suite
// (internal/chaos) must report lost writes. Never ship it.
func compareRegisters(r, o Register) int {
	if !r.Deleted && !o.Deleted {
		if c := bytes.Compare(r.Value, o.Value); c != 0 {
			return c
		}
	}
	return lwwOrder(r, o)
}
