//go:build !grapevine_broken_merge

package crdt

// compareRegisters is Register.Compare: the last-writer-wins order.
func compareRegisters(r, o Register) int { return lwwOrder(r, o) }
