package grpcapi

import (
	"fmt"
	"strconv"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/grpcapi/kvpb"
	"github.com/grapevine-kv/grapevine/node"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The response headers of a watch, as the HTTP API's Grapevine-Peer and
// Grapevine-Index: the peer its change indexes belong to, and its last
// index when the watch began (where to resume after re-reading the keys
// when since is refused as compacted).
const (
	PeerHeader  = "grapevine-peer"
	IndexHeader = "grapevine-index"
)

// Watch streams the changes of keys under a prefix: live, or with since
// first the changes after that index (node.WatchSince). An index of
// another peer, or one no longer in the change log, is OutOfRange
// (reason "compacted") with "peer" and "index" in the ErrorInfo and the
// headers: read the keys again, then watch with since=index. A watcher
// that falls too far behind gets a dropped event, then the stream ends.
// At shutdown the stream ends Unavailable.
func (s *Server) Watch(r *kvpb.WatchRequest, stream grpc.ServerStreamingServer[kvpb.Event]) error {
	ctx, cancel := s.callContext(stream.Context())
	defer cancel()
	self := s.node.Peer().ID().String()
	var events <-chan node.Event
	var err error
	if r.Since == nil {
		if r.GetPeer() != "" {
			return statusError(invalid("peer goes with since"), nil)
		}
		events, err = s.node.Watch(ctx, r.GetNamespace(), r.GetPrefix())
	} else if p := r.GetPeer(); p != "" && p != self {
		last := s.node.LastIndex()
		s.setHeaders(stream, self, last)
		return withInfo(status.Newf(codes.OutOfRange,
			"change index %d belongs to peer %s; this is peer %s: read the keys again, then watch with since=%d", r.GetSince(), p, self, last),
			apitype.CodeCompacted, map[string]string{"peer": self, "index": strconv.FormatUint(last, 10)})
	} else {
		events, err = s.node.WatchSince(ctx, r.GetNamespace(), r.GetPrefix(), r.GetSince())
	}
	last := s.node.LastIndex() // after subscribing: no change after it is missed
	s.setHeaders(stream, self, last)
	if err != nil {
		return statusError(err, map[string]string{"peer": self, "index": strconv.FormatUint(last, 10)})
	}
	if err := stream.SendHeader(nil); err != nil {
		return nil // the client went away
	}
	for ev := range events {
		if err := stream.Send(eventOf(ev)); err != nil {
			return nil // the client went away
		}
		last = ev.Index
		if ev.Dropped {
			return nil
		}
	}
	if stream.Context().Err() != nil {
		return nil // the client went away
	}
	return statusError(fmt.Errorf("%w: the watch ended at index %d", node.ErrClosed, last), map[string]string{"peer": self, "index": strconv.FormatUint(last, 10)})
}

// setHeaders sets a watch's response headers.
func (s *Server) setHeaders(stream grpc.ServerStream, peer string, index uint64) {
	_ = stream.SetHeader(metadata.Pairs(PeerHeader, peer, IndexHeader, strconv.FormatUint(index, 10)))
}
