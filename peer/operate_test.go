package peer

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/prometheus/client_golang/prometheus"
)

// A second peer on a port another process holds is refused with an error
// naming the address, for TCP and for QUIC (UDP).
func TestNewRefusesAPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, addr := range []string{
		"/ip4/127.0.0.1/tcp/" + portOf(ln.Addr()),
		"/ip4/127.0.0.1/udp/" + portOf(pc.LocalAddr()) + "/quic-v1",
	} {
		cfg := testConfig(t, t.TempDir())
		cfg.ListenAddrs = []string{addr}
		p, err := New(t.Context(), cfg)
		if err == nil {
			_ = p.Close()
			t.Fatalf("New on %s, a port in use: no error", addr)
		}
		if !errors.Is(err, ErrListenAddrInUse) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "already in use by another process") {
			t.Errorf("New on %s: %v; want ErrListenAddrInUse naming the address", addr, err)
		}
	}
}

func portOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}

// Other peers see this peer's UserAgent through identify, and libp2p's and
// the resource manager's metrics land on the registry given.
func TestUserAgentAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := testConfig(t, t.TempDir())
	cfg.UserAgent = "grapevine/v9.8.7-test"
	cfg.Metrics = reg
	a := startPeer(t, cfg)
	b := startPeer(t, testConfig(t, t.TempDir(), addrWith(t, a, "/tcp/")))
	testutil.Eventually(t, "b sees a's agent", func() bool {
		v, err := b.Host().Peerstore().Get(a.ID(), "AgentVersion")
		return err == nil && v == "grapevine/v9.8.7-test"
	})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	all := strings.Join(names, " ")
	for _, prefix := range []string{"libp2p_rcmgr_", "libp2p_swarm_", "libp2p_identify_"} {
		if !strings.Contains(all, prefix) {
			t.Errorf("no %s* metric on the registry; have %s", prefix, all)
		}
	}
}
