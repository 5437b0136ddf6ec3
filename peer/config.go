package peer

import (
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/multiformats/go-multiaddr"
)

// Config configures a Peer. Start from DefaultConfig and set DataDir; Validate
// reports what is wrong with a Config, and New calls it.
type Config struct {
	// DataDir holds the identity key ("identity.key", mode 0600) and the
	// known peers ("peers.json"); it is created (mode 0700) if missing.
	// Required: without it a peer would change identity on every start.
	DataDir string
	// ListenAddrs are the multiaddrs to listen on, each TCP
	// ("/ip4/…/tcp/PORT") or QUIC ("/ip4/…/udp/PORT/quic-v1"); port 0 picks
	// a free port. Ignored by NewWithHost. Default
	// ["/ip4/0.0.0.0/tcp/4101", "/ip4/0.0.0.0/udp/4101/quic-v1"]: every
	// interface, both transports, one well-known port.
	ListenAddrs []string
	// Bootstrap lists peers to connect to at Start and to fall back on when
	// the DHT routing table empties, each a multiaddr ending in /p2p/<id>.
	// Default none: a peer that has run before redials the peers it
	// remembers, and mDNS finds peers on the local network.
	Bootstrap []string
	// Network names the grapevine network: it scopes the DHT's protocols
	// (ProtocolPrefix), the rendezvous ("grapevine/<network>") and the mDNS
	// service name, and a peer that speaks only another network's grapevine
	// protocols is disconnected and refused, so two networks never mix. Letters, digits, '.', '_' and '-',
	// at most 64 characters. Default "default".
	Network string
	// MDNS turns on mDNS discovery of peers on the local network. Default
	// true, so peers on one LAN find each other with no configuration.
	MDNS bool
	// DiscoveryInterval is the period, jittered by ±20%, of rendezvous
	// advertise and lookup in the DHT and of redialling known and bootstrap
	// peers that are not connected. Default 30s: a new peer is found within
	// a minute at the cost of one DHT lookup per peer and interval.
	DiscoveryInterval time.Duration
	// LowWater and HighWater are the connection manager's watermarks: when
	// more than HighWater connections are open it closes the least useful
	// down to LowWater (connections younger than a minute are spared).
	// Defaults 64 and 192: far more peers than anti-entropy and GossipSub
	// need, far fewer than the resource manager's limits.
	LowWater, HighWater int
	// PrivateNetworkKey, when set, is a 32-byte pre-shared key: the peer
	// then connects only to peers holding the same key, so a network can be
	// closed to strangers. libp2p's private networks support TCP only, so
	// QUIC listen addresses are dropped and at least one TCP address is
	// needed. DecodePrivateNetworkKey reads the usual swarm.key format.
	// Default nil: an open network.
	PrivateNetworkKey []byte
	// AllowPeersFile, when set, names an allowlist file: one peer ID per
	// line, '#' starts a comment, blank lines are ignored. Only the peers
	// it lists may connect, in either direction; the Peer rereads it when
	// its modification time or size changes (checked every 2 s) and on
	// ReloadAllowlist, and closes the connections to peers removed from it.
	// Needs a host built by New (NewWithHost's host does not consult the
	// gater). Default "": no allowlist, every peer of the network (holding
	// the PrivateNetworkKey, if set) may connect.
	AllowPeersFile string
	// Logger receives the peer's logs. Default slog.Default().
	Logger *slog.Logger
	// UserAgent is the agent string identify announces to other peers
	// (their peerstore's "AgentVersion"), so an operator can tell which
	// version each peer runs. Ignored by NewWithHost. Default "grapevine";
	// the daemon sends "grapevine/<version>".
	UserAgent string
	// Metrics, when set, receives libp2p's own metrics (swarm, identify,
	// event bus) and the resource manager's, so they are scraped with the
	// node's. Ignored by NewWithHost. Default nil: libp2p's metrics are
	// off, rather than landing on the process-wide default registry.
	Metrics prometheus.Registerer
}

// Defaults used by DefaultConfig.
const (
	DefaultNetwork           = "default"
	DefaultDiscoveryInterval = 30 * time.Second
	DefaultLowWater          = 64
	DefaultHighWater         = 192
	DefaultUserAgent         = "grapevine"
	maxNetworkLen            = 64
	pskLen                   = 32
)

// DefaultListenAddrs are the listen addresses of DefaultConfig.
var DefaultListenAddrs = []string{"/ip4/0.0.0.0/tcp/4101", "/ip4/0.0.0.0/udp/4101/quic-v1"}

// ErrInvalidConfig is wrapped by every error Validate returns.
var ErrInvalidConfig = errors.New("peer: invalid config")

// DefaultConfig returns the default configuration; DataDir must still be set.
func DefaultConfig() Config {
	return Config{
		ListenAddrs:       append([]string(nil), DefaultListenAddrs...),
		Network:           DefaultNetwork,
		MDNS:              true,
		DiscoveryInterval: DefaultDiscoveryInterval,
		LowWater:          DefaultLowWater,
		HighWater:         DefaultHighWater,
		Logger:            slog.Default(),
		UserAgent:         DefaultUserAgent,
	}
}

var networkRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Validate reports every problem with c, or nil. The error wraps
// ErrInvalidConfig and names each offending field and value.
func (c Config) Validate() error { return c.validate(true) }

// ValidateWithHost is Validate for NewWithHost, which ignores ListenAddrs.
func (c Config) ValidateWithHost() error { return c.validate(false) }

// validate checks c; listen says whether ListenAddrs are used (New) or
// ignored (NewWithHost).
func (c Config) validate(listen bool) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if c.DataDir == "" {
		bad("DataDir is empty; the identity key and known peers are kept there")
	}
	if listen {
		if len(c.ListenAddrs) == 0 {
			bad("no listen addresses; give at least one, e.g. %q", DefaultListenAddrs[0])
		}
		for _, s := range c.ListenAddrs {
			if _, err := parseListenAddr(s); err != nil {
				bad("%v", err)
			}
		}
	}
	for _, s := range c.Bootstrap {
		if _, err := parseBootstrapAddr(s); err != nil {
			bad("%v", err)
		}
	}
	if err := ValidNetwork(c.Network); err != nil {
		bad("%v", err)
	}
	if n := len(c.PrivateNetworkKey); n != 0 && n != pskLen {
		bad("PrivateNetworkKey is %d bytes, want %d", n, pskLen)
	}
	if listen && len(c.PrivateNetworkKey) != 0 && !slices.ContainsFunc(c.ListenAddrs, func(s string) bool {
		a, err := parseListenAddr(s)
		return err == nil && isTCP(a)
	}) {
		bad("a private network (PrivateNetworkKey) runs over TCP only, and no listen address is TCP")
	}
	if c.DiscoveryInterval <= 0 {
		bad("DiscoveryInterval %v is not positive", c.DiscoveryInterval)
	}
	if c.LowWater < 0 || c.HighWater <= 0 || c.LowWater >= c.HighWater {
		bad("connection watermarks low=%d high=%d: want 0 <= low < high", c.LowWater, c.HighWater)
	}
	if !listen && c.AllowPeersFile != "" {
		bad("an allowlist (AllowPeersFile) needs a host built by New: a host given to NewWithHost does not consult the peer's connection gater")
	}
	if c.Logger == nil {
		bad("the logger (Logger) is nil; start from DefaultConfig")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// ValidNetwork checks a network name: 1 to 64 letters, digits, '.', '_'
// or '-'. It is the one rule for network names.
func ValidNetwork(name string) error {
	if name == "" {
		return fmt.Errorf("network name is empty; use %q unless you run several networks", DefaultNetwork)
	}
	if len(name) > maxNetworkLen || !networkRE.MatchString(name) {
		return fmt.Errorf("network name %q: use at most %d letters, digits, '.', '_' or '-'", name, maxNetworkLen)
	}
	return nil
}

// parseListenAddr parses a TCP or QUIC listen multiaddr.
func parseListenAddr(s string) (multiaddr.Multiaddr, error) {
	a, err := multiaddr.NewMultiaddr(s)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", s, err)
	}
	if !isTCP(a) && !isQUIC(a) {
		return nil, fmt.Errorf("listen address %q: only TCP (/ip4/0.0.0.0/tcp/4101) and QUIC (/ip4/0.0.0.0/udp/4101/quic-v1) are supported", s)
	}
	if _, err := a.ValueForProtocol(multiaddr.P_P2P); err == nil {
		return nil, fmt.Errorf("listen address %q: must not contain /p2p/", s)
	}
	return a, nil
}

// isTCP reports whether a is /ip{4,6}/IP/tcp/PORT with nothing after.
func isTCP(a multiaddr.Multiaddr) bool {
	return len(a) == 2 && isIP(a[0].Protocol().Code) && a[1].Protocol().Code == multiaddr.P_TCP
}

// isQUIC reports whether a is /ip{4,6}/udp/PORT/quic-v1 with nothing after.
func isQUIC(a multiaddr.Multiaddr) bool {
	return len(a) == 3 && isIP(a[0].Protocol().Code) && a[1].Protocol().Code == multiaddr.P_UDP &&
		a[2].Protocol().Code == multiaddr.P_QUIC_V1
}

func isIP(code int) bool { return code == multiaddr.P_IP4 || code == multiaddr.P_IP6 }

// parseBootstrapAddr parses a bootstrap multiaddr ending in /p2p/<id>.
func parseBootstrapAddr(s string) (peer.AddrInfo, error) {
	a, err := multiaddr.NewMultiaddr(s)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("bootstrap address %q: %w", s, err)
	}
	if _, err := a.ValueForProtocol(multiaddr.P_P2P); err != nil {
		return peer.AddrInfo{}, fmt.Errorf("bootstrap address %q has no peer ID: it must end in /p2p/<peer-id>, as printed by the other peer", s)
	}
	info, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("bootstrap address %q: it must end in /p2p/<peer-id>: %w", s, err)
	}
	if len(info.Addrs) == 0 {
		return peer.AddrInfo{}, fmt.Errorf("bootstrap address %q has no transport address before /p2p/, e.g. /ip4/10.0.0.1/tcp/4101/p2p/<peer-id>", s)
	}
	return *info, nil
}

// DecodePrivateNetworkKey reads a private-network key in the libp2p
// swarm.key format ("/key/swarm/psk/1.0.0/", an encoding line such as
// "/base16/", then the 32-byte key) for Config.PrivateNetworkKey.
func DecodePrivateNetworkKey(r io.Reader) ([]byte, error) {
	psk, err := pnet.DecodeV1PSK(r)
	if err != nil {
		return nil, fmt.Errorf("peer: private network key: %w", err)
	}
	if len(psk) != pskLen {
		return nil, fmt.Errorf("peer: private network key is %d bytes, want %d", len(psk), pskLen)
	}
	return psk, nil
}
