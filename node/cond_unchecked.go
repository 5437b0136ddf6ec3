//go:build grapevine_cas_unchecked

package node

// checksConditions is false in this deliberately broken build (tag
// grapevine_cas_unchecked): every conditional write succeeds as if
// unconditional, so the fault-injection suite (internal/chaos) must
// report a cas violation. Never ship it.
func checksConditions() bool { return false }
