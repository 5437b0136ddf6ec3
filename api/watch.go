package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/node"
)

// watchFrom starts the watch a GET /v1/watch asks for: live only, or with
// since= (and optionally peer=, the ID the index belongs to) replaying the
// changes after that index first. It sets PeerHeader and IndexHeader on
// the answer, a refusal included, so that a client told 410 compacted
// knows where to continue after re-reading the keys.
func (s *Server) watchFrom(w http.ResponseWriter, r *http.Request) (<-chan node.Event, error) {
	q := r.URL.Query()
	ns, prefix := q.Get("ns"), []byte(q.Get("prefix"))
	self := s.node.Peer().ID().String()
	w.Header().Set(apitype.PeerHeader, self)
	setIndex := func() { w.Header().Set(apitype.IndexHeader, strconv.FormatUint(s.node.LastIndex(), 10)) }
	if !q.Has("since") {
		if q.Has("peer") {
			return nil, errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "peer= goes with since=")
		}
		events, err := s.node.Watch(r.Context(), ns, prefix)
		setIndex() // after subscribing: no change after it is missed
		return events, err
	}
	since, err := strconv.ParseUint(q.Get("since"), 10, 64)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "since=%q is not a change index (a whole number from an event's \"index\")", q.Get("since"))
	}
	if p := q.Get("peer"); p != "" && p != self {
		setIndex()
		return nil, errorf(http.StatusGone, apitype.CodeCompacted, "change index %d belongs to peer %s; this is peer %s: read the keys again, then watch with since=%s", since, p, self, w.Header().Get(apitype.IndexHeader))
	}
	events, err := s.node.WatchSince(r.Context(), ns, prefix, since)
	setIndex()
	return events, err
}

// droppedEvent is the last line of a stream whose watcher fell too far
// behind.
func droppedEvent(index uint64) apitype.Event {
	return apitype.Event{Dropped: true, Index: index, Message: fmt.Sprintf(
		"this watcher fell more than %d changes behind and was dropped; watch again with since=%d", node.WatchBuffer, index)}
}
