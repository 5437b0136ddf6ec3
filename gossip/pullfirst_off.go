//go:build grapevine_no_pullfirst

package gossip

// noPullFirst is true in this negative-control build (grapevine_no_pullfirst):
// a peer back from an absence longer than the grace offers every state, so
// `make chaos-controls` can show the chaos run catches the resurrection.
// Never ship it.
const noPullFirst = true
