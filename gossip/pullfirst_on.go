//go:build !grapevine_no_pullfirst

package gossip

// noPullFirst is false: the rejoin rule withholds old states while pulling
// first. The grapevine_no_pullfirst build (pullfirst_off.go) turns it off
// for a negative control.
const noPullFirst = false
