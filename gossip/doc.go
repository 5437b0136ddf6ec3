// Package gossip replicates grapevine's CRDT state between peers. Push sends
// each committed batch of deltas to every peer through one GossipSub topic
// per network and namespace; it is the fast path and best effort. The pull
// path (anti-entropy) repairs whatever push lost.
package gossip
