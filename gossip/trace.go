package gossip

import (
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// readBuffer is how many validated messages of a topic wait for the
// reader (Push.read) while the node is busy; GossipSub drops a message
// that finds the buffer full. Its default, 32, dropped messages whenever a
// peer was briefly behind: measured with writes spread over 5 peers
// (grapevine bench put --cluster 5 --spread), those writes then waited for
// anti-entropy, and the replication lag's p99 was 4.2–4.6 s instead of
// 0.25–0.31 s. The same bound as the per-peer outbound and validation
// queues.
const readBuffer = 1024

// drops counts what GossipSub drops, for the metrics: messages it could
// not hand to this peer's reader (readBuffer full) and messages it could
// not queue to a peer (that peer's outbound queue full). Anti-entropy
// repairs both, a sync round later.
type drops struct {
	undelivered atomic.Uint64
	unsent      atomic.Uint64
	handed      atomic.Uint64 // messages handed to this peer's subscriptions, or dropped there (tests)
}

var _ pubsub.RawTracer = (*drops)(nil)

func (d *drops) UndeliverableMessage(*pubsub.Message) { d.undelivered.Add(1) }
func (d *drops) DeliverMessage(*pubsub.Message)       { d.handed.Add(1) }
func (d *drops) DropRPC(rpc *pubsub.RPC, _ libp2ppeer.ID) {
	d.unsent.Add(uint64(len(rpc.GetPublish())))
}

// The rest of pubsub.RawTracer: nothing to count.

func (*drops) OnNewOutboundStream(libp2ppeer.ID, protocol.ID)             {}
func (*drops) OnClosedOutboundStream(libp2ppeer.ID)                       {}
func (*drops) Join(string)                                                {}
func (*drops) Leave(string)                                               {}
func (*drops) Graft(libp2ppeer.ID, string)                                {}
func (*drops) Prune(libp2ppeer.ID, string)                                {}
func (*drops) ValidateMessage(*pubsub.Message)                            {}
func (*drops) RejectMessage(*pubsub.Message, string)                      {}
func (*drops) DuplicateMessage(*pubsub.Message)                           {}
func (*drops) ThrottlePeer(libp2ppeer.ID)                                 {}
func (*drops) RecvRPC(*pubsub.RPC)                                        {}
func (*drops) SendRPC(*pubsub.RPC, libp2ppeer.ID)                         {}
func (*drops) SendRPCCompleted(*pubsub.RPC, libp2ppeer.ID, time.Duration) {}
