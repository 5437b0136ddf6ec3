//go:build grapevine_skip_verify

package node

// skipVerify is true in this negative-control build (grapevine_skip_verify):
// admit accepts every state in a signed namespace, forged or not, so
// `make chaos-controls` can show the chaos run catches it. Never ship it.
const skipVerify = true
