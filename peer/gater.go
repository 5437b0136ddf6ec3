package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// Reasons of refusals, as counted in Stats and labelled in metrics.
const (
	// RefusalNetwork: the peer speaks the grapevine protocols of another
	// network and none of this one's.
	RefusalNetwork = "network"
	// RefusalAllowlist: the peer is not in the allowlist
	// (Config.AllowPeersFile).
	RefusalAllowlist = "allowlist"
)

// Stats counts what the peer refused since New.
type Stats struct {
	// RefusedNetwork counts connections closed because the peer is on
	// another network, and dials and inbound connections refused while
	// such a peer is held off (networkHoldOff).
	RefusedNetwork uint64
	// RefusedAllowlist counts dials and inbound connections refused
	// because the peer is not in the allowlist.
	RefusedAllowlist uint64
}

// Stats returns the refusal counters. Safe for concurrent use.
func (p *Peer) Stats() Stats {
	return Stats{
		RefusedNetwork:   p.gater.refusedNetwork.Load(),
		RefusedAllowlist: p.gater.refusedAllowlist.Load(),
	}
}

// gater is the host's connection gater. It refuses, in both directions:
// peers not in the allowlist (when one is configured), peers of another
// network for networkHoldOff after they were found out (so that discovery
// does not redial them at once), and, for fault-injection tests, a block
// list of peer IDs plus an "isolated" switch that refuses every peer (see
// Peer.Block). Safe for concurrent use.
type gater struct {
	self peer.ID
	log  *slog.Logger
	now  func() time.Time

	refusedNetwork, refusedAllowlist atomic.Uint64

	mu struct {
		sync.RWMutex
		blocked  map[peer.ID]bool
		isolated bool
		// heldOff maps peers of other networks to the end of their
		// refusal.
		heldOff map[peer.ID]time.Time
		// allow is the allowlist; nil when none is configured.
		allow map[peer.ID]bool
		// logged are the peers whose allowlist refusal was logged since
		// the list was last loaded (at most maxLoggedRefusals).
		logged map[peer.ID]bool
	}
}

// maxLoggedRefusals bounds the peers whose allowlist refusal is logged per
// load of the list, so that a flood of made-up peer IDs cannot flood the log
// or grow memory.
const maxLoggedRefusals = 1024

var _ connmgr.ConnectionGater = (*gater)(nil)

func newGater(self peer.ID, log *slog.Logger) *gater {
	g := &gater{self: self, log: log, now: time.Now}
	g.mu.blocked = make(map[peer.ID]bool)
	g.mu.heldOff = make(map[peer.ID]time.Time)
	g.mu.logged = make(map[peer.ID]bool)
	return g
}

// allowed reports whether connections to or from id may exist; count says
// whether a refusal is counted (and logged).
func (g *gater) allowed(id peer.ID, count bool) bool {
	if id == g.self {
		return true
	}
	g.mu.RLock()
	blocked := g.mu.isolated || g.mu.blocked[id]
	notListed := g.mu.allow != nil && !g.mu.allow[id]
	until, held := g.mu.heldOff[id]
	logged := g.mu.logged[id]
	g.mu.RUnlock()
	switch {
	case blocked:
		return false
	case notListed:
		if count {
			g.refusedAllowlist.Add(1)
			if !logged {
				g.logAllowlistRefusal(id)
			}
		}
		return false
	case held && g.now().Before(until):
		if count {
			g.refusedNetwork.Add(1)
		}
		return false
	}
	return true
}

// logAllowlistRefusal logs the first refusal of id since the allowlist was
// loaded.
func (g *gater) logAllowlistRefusal(id peer.ID) {
	g.mu.Lock()
	first := !g.mu.logged[id] && len(g.mu.logged) < maxLoggedRefusals
	if first {
		g.mu.logged[id] = true
	}
	g.mu.Unlock()
	if first {
		g.log.Info("refused peer: not in the allowlist", "remote", id, "reason", RefusalAllowlist)
	}
}

// holdOff refuses id until the given time; it reports whether id was not
// already held off.
func (g *gater) holdOff(id peer.ID, until time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	for other, t := range g.mu.heldOff { // drop the expired ones
		if !now.Before(t) {
			delete(g.mu.heldOff, other)
		}
	}
	_, was := g.mu.heldOff[id]
	g.mu.heldOff[id] = until
	return !was
}

// setAllow replaces the allowlist (nil: none) and forgets which refusals
// were logged.
func (g *gater) setAllow(allow map[peer.ID]bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mu.allow = allow
	clear(g.mu.logged)
}

// InterceptPeerDial refuses dials to refused peers, counting them.
func (g *gater) InterceptPeerDial(id peer.ID) bool { return g.allowed(id, true) }

// InterceptAddrDial refuses dials to refused peers (counted by
// InterceptPeerDial, which the same dial passed through first).
func (g *gater) InterceptAddrDial(id peer.ID, _ multiaddr.Multiaddr) bool {
	return g.allowed(id, false)
}

// InterceptAccept allows every inbound connection: the remote peer is not
// known before the security handshake (InterceptSecured decides).
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses connections with refused peers in either
// direction, counting them.
func (g *gater) InterceptSecured(_ network.Direction, id peer.ID, _ network.ConnMultiaddrs) bool {
	return g.allowed(id, true)
}

// InterceptUpgraded refuses a connection whose peer was refused during the
// upgrade.
func (g *gater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return g.allowed(c.RemotePeer(), false), 0
}

// ErrAllowlist is wrapped by the errors of reading an allowlist file.
var ErrAllowlist = errors.New("peer: bad allowlist")

// maxAllowlistLine bounds a line of an allowlist file.
const maxAllowlistLine = 4096

// readAllowlist reads an allowlist: one peer ID per line; '#' starts a
// comment; blank lines are ignored. name names the source in errors.
func readAllowlist(r io.Reader, name string) (map[peer.ID]bool, error) {
	allow := make(map[peer.ID]bool)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxAllowlistLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		id, err := peer.Decode(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %q is not a peer ID (want one peer ID per line, such as 12D3KooW…: the part after /p2p/ in `grapevine id`): %w", ErrAllowlist, name, n, line, err)
		}
		allow[id] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrAllowlist, name, err)
	}
	return allow, nil
}

// loadAllowlist reads the allowlist file at path.
func loadAllowlist(path string) (map[peer.ID]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAllowlist, err)
	}
	defer f.Close()
	return readAllowlist(f, path)
}

// fileStamp identifies a version of a file: its modification time and size.
type fileStamp struct {
	mod  time.Time
	size int64
}

func (s fileStamp) equal(o fileStamp) bool { return s.mod.Equal(o.mod) && s.size == o.size }

func stampOf(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: st.ModTime(), size: st.Size()}, nil
}

// ReloadAllowlist rereads Config.AllowPeersFile: peers added to it may
// connect from now on, and the connections to peers removed from it are
// closed. A file that cannot be read or parsed leaves the current list in
// force; the error is returned and logged. Without an allowlist it does
// nothing and returns nil. Safe for concurrent use; the daemon calls it on
// SIGHUP, and the Peer itself when the file changes.
func (p *Peer) ReloadAllowlist() error {
	if p.cfg.AllowPeersFile == "" {
		return nil
	}
	p.allowMu.Lock()
	defer p.allowMu.Unlock()
	return p.reloadAllowlistLocked()
}

// reloadAllowlistLocked is ReloadAllowlist under p.allowMu.
func (p *Peer) reloadAllowlistLocked() error {
	path := p.cfg.AllowPeersFile
	stamp, _ := stampOf(path)
	p.allowStamp = stamp // a broken version is not retried until it changes
	allow, err := loadAllowlist(path)
	if err != nil {
		p.log.Error("allowlist not reloaded; the previous list stays in force", "file", path, "err", err)
		return err
	}
	p.gater.mu.RLock()
	old := p.gater.mu.allow
	p.gater.mu.RUnlock()
	p.gater.setAllow(allow)
	added, removed := 0, 0
	for id := range allow {
		if !old[id] {
			added++
		}
	}
	for id := range old {
		if !allow[id] {
			removed++
		}
	}
	closed := 0
	for _, id := range p.host.Network().Peers() {
		if !allow[id] {
			_ = p.host.Network().ClosePeer(id)
			closed++
		}
	}
	p.log.Info("allowlist reloaded", "file", path, "peers", len(allow), "added", added, "removed", removed, "disconnected", closed)
	return nil
}

// allowlistLoop reloads the allowlist when its file's modification time or
// size changes, checking every allowPoll, until Close. A change is taken
// once the file has stayed the same for one whole poll, so a file caught
// half written (an editor or `echo >` truncates, then writes) is never
// loaded: that would refuse every peer for a moment.
func (p *Peer) allowlistLoop() {
	t := time.NewTicker(p.allowPoll)
	defer t.Stop()
	var last fileStamp // the stamp seen at the previous poll
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		stamp, err := stampOf(p.cfg.AllowPeersFile)
		if err != nil {
			continue
		}
		p.allowMu.Lock()
		if !stamp.equal(p.allowStamp) && stamp.equal(last) {
			_ = p.reloadAllowlistLocked()
		}
		p.allowMu.Unlock()
		last = stamp
	}
}

// Block refuses connections with ids (in both directions) from now on and
// closes the open ones. Meant for tests that partition peers. The host of a
// peer built by NewWithHost does not consult the block list, so there only
// the open connections are closed.
func (p *Peer) Block(ids ...peer.ID) {
	p.gater.mu.Lock()
	for _, id := range ids {
		p.gater.mu.blocked[id] = true
	}
	p.gater.mu.Unlock()
	for _, id := range ids {
		_ = p.host.Network().ClosePeer(id)
	}
}

// Unblock allows connections with ids again. It does not dial them; see
// Redial.
func (p *Peer) Unblock(ids ...peer.ID) {
	p.gater.mu.Lock()
	defer p.gater.mu.Unlock()
	for _, id := range ids {
		delete(p.gater.mu.blocked, id)
	}
}

// UnblockAll empties the block list and ends isolation.
func (p *Peer) UnblockAll() {
	p.gater.mu.Lock()
	defer p.gater.mu.Unlock()
	clear(p.gater.mu.blocked)
	p.gater.mu.isolated = false
}

// Blocked returns the blocked peer IDs, sorted.
func (p *Peer) Blocked() []peer.ID {
	p.gater.mu.RLock()
	defer p.gater.mu.RUnlock()
	out := make([]peer.ID, 0, len(p.gater.mu.blocked))
	for id := range p.gater.mu.blocked {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Isolate, when on, refuses connections with every peer (blocked or not) and
// closes the open ones; off restores the block list's verdicts. Tests start
// a restarted peer isolated to read its own durable state before it syncs.
func (p *Peer) Isolate(on bool) {
	p.gater.mu.Lock()
	p.gater.mu.isolated = on
	p.gater.mu.Unlock()
	if on {
		for _, id := range p.host.Network().Peers() {
			_ = p.host.Network().ClosePeer(id)
		}
	}
}

// Isolated reports whether Isolate(true) is in force.
func (p *Peer) Isolated() bool {
	p.gater.mu.RLock()
	defer p.gater.mu.RUnlock()
	return p.gater.mu.isolated
}

// Redial dials the bootstrap and remembered peers that are not connected,
// now rather than at the next discovery round, and returns how many it
// reached. It blocks until the dials finish or ctx is done.
func (p *Peer) Redial(ctx context.Context) int {
	return p.dialAll(ctx, append(slices.Clone(p.bootstrap), p.knownInfos()...))
}
