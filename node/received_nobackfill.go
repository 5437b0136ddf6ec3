//go:build grapevine_no_backfill

package node

import (
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

// processStart is when this process started.
var processStart = time.Now()

// dropReceived, in this negative-control build (grapevine_no_backfill),
// silently drops every received register stamped more than 20 s before the
// process started: a new peer never receives what was written before it
// joined (a peer restarted after seconds down still catches up). Never
// ship it.
func dropReceived(_ string, st crdt.State) bool {
	r, ok := st.(crdt.Register)
	return ok && r.Time.Time().Before(processStart.Add(-20*time.Second))
}
