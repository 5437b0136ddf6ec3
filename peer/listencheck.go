package peer

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// ErrListenAddrInUse is wrapped by New's error when a listen address's
// port is already bound by another process.
var ErrListenAddrInUse = errors.New("peer: listen address in use")

// checkListenFree binds and releases each listen address with a fixed port
// (port 0 is always free), without SO_REUSEPORT: libp2p's TCP transport
// sets SO_REUSEPORT, so without this check a second daemon would share a
// port with the first and two identities would answer on it. The error
// names the first address in use and wraps ErrListenAddrInUse; an address
// that fails for another reason is left to libp2p to report.
func checkListenFree(addrs []string) error {
	for _, s := range addrs {
		a, err := parseListenAddr(s)
		if err != nil {
			continue // Validate reports it
		}
		ip, port := a[0].Value(), a[1].Value()
		if port == "0" {
			continue
		}
		hostport := net.JoinHostPort(ip, port)
		proto := "TCP"
		switch {
		case isTCP(a):
			var ln net.Listener
			if ln, err = net.Listen("tcp", hostport); err == nil {
				_ = ln.Close()
			}
		case isQUIC(a):
			proto = "UDP"
			var pc net.PacketConn
			if pc, err = net.ListenPacket("udp", hostport); err == nil {
				_ = pc.Close()
			}
		}
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w: %s: %s port %s is already in use by another process (another grapevine daemon?); stop it, or give this peer another --listen port", ErrListenAddrInUse, s, proto, port)
		}
	}
	return nil
}
