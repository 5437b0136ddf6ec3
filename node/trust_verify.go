//go:build !grapevine_skip_verify

package node

// skipVerify is false: admit refuses what verifyState finds wrong. The
// grapevine_skip_verify build tag (trust_skipverify.go) turns it on, as a
// negative control of internal/chaos, which must then report forged
// states accepted.
const skipVerify = false
