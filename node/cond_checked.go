//go:build !grapevine_cas_unchecked

package node

// checksConditions reports whether conditional writes check their
// condition; false only in the grapevine_cas_unchecked negative control.
func checksConditions() bool { return true }
