package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/grapevine-kv/grapevine/crdt"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
)

// The peers run as a careful operator runs them: one swarm key for all
// (made with `grapevine keygen swarm`), an allowlist of their IDs, and a
// signed namespace whose writer list names some of them. Identities are
// made here, before the first start, and written where the daemon keeps
// its own (identityFile in the data directory; Start checks the daemon
// took it), so the allowlist and the writer list are complete from the
// first start on and kill -9 restarts keep them.
const (
	signedNS     = "signed"       // the namespace with a writer list
	identityFile = "identity.key" // the daemon's identity key in its data directory (libp2p private key encoding)
)

// trust holds the keys and files of the run's security setup.
type trust struct {
	swarmKeyFile string
	allowFile    string
	psk          pnet.PSK
	keys         []ic.PrivKey // the peers' identities, by index
	ids          []string     // their peer IDs
	writers      []bool       // by peer index: on signedNS's writer list
	rogue        ic.PrivKey   // the rogue peer: holds the swarm key, allowlisted, not a writer
	outsider     ic.PrivKey   // the rogue's wrong-network host: holds the swarm key, allowlisted
}

// newTrust makes the swarm key (with bin), the peers' and the rogue's
// identities, the allowlist and the data directories' identity keys.
func newTrust(ctx context.Context, bin, dir string, dataDirs []string) (*trust, error) {
	t := &trust{
		swarmKeyFile: filepath.Join(dir, "swarm.key"),
		allowFile:    filepath.Join(dir, "allow-peers"),
	}
	out, err := exec.CommandContext(ctx, bin, "keygen", "swarm").Output()
	if err != nil {
		return nil, fmt.Errorf("chaos: %s keygen swarm: %w", bin, err)
	}
	if err := os.WriteFile(t.swarmKeyFile, out, 0o600); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	if t.psk, err = pnet.DecodeV1PSK(bytes.NewReader(out)); err != nil {
		return nil, fmt.Errorf("chaos: swarm key from keygen: %w", err)
	}
	newKey := func() (ic.PrivKey, string, error) {
		k, _, err := ic.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, "", err
		}
		id, err := libp2ppeer.IDFromPrivateKey(k)
		return k, id.String(), err
	}
	var allow strings.Builder
	allow.WriteString("# grapevine chaos: the peers, then the rogue insiders (swarm key, allowlisted, no writer)\n")
	nw := max(1, len(dataDirs)*3/5) // 5 peers: p1–p3 write signedNS
	for i, d := range dataDirs {
		k, id, err := newKey()
		if err != nil {
			return nil, fmt.Errorf("chaos: identity: %w", err)
		}
		raw, err := ic.MarshalPrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("chaos: identity: %w", err)
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("chaos: %w", err)
		}
		if err := os.WriteFile(filepath.Join(d, identityFile), raw, 0o600); err != nil {
			return nil, fmt.Errorf("chaos: %w", err)
		}
		t.keys, t.ids, t.writers = append(t.keys, k), append(t.ids, id), append(t.writers, i < nw)
		fmt.Fprintf(&allow, "%s # p%d\n", id, i+1)
	}
	for _, k := range []*ic.PrivKey{&t.rogue, &t.outsider} {
		var id string
		if *k, id, err = newKey(); err != nil {
			return nil, fmt.Errorf("chaos: identity: %w", err)
		}
		fmt.Fprintf(&allow, "%s\n", id)
	}
	if err := os.WriteFile(t.allowFile, []byte(allow.String()), 0o600); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	return t, nil
}

// origin returns peer i's register origin (its decoded peer ID).
func (t *trust) origin(i int) crdt.ReplicaID {
	id, _ := libp2ppeer.Decode(t.ids[i]) // made by IDFromPrivateKey: decodes
	return crdt.ReplicaID(id)
}

// args returns the daemon flags of the setup.
func (t *trust) args() []string {
	var w []string
	for i, id := range t.ids {
		if t.writers[i] {
			w = append(w, id)
		}
	}
	return []string{"--swarm-key", t.swarmKeyFile, "--allow-peers", t.allowFile,
		"--writers", signedNS + "=" + strings.Join(w, ",")}
}

// writerNames returns "p1–p3"-style names of the writers.
func (t *trust) writerNames() string {
	var names []string
	for i, w := range t.writers {
		if w {
			names = append(names, fmt.Sprintf("p%d", i+1))
		}
	}
	return strings.Join(names, ",")
}

// qualified names key of namespace ns in the history and final states:
// the default namespace's keys as they are, others as "ns:key".
func qualified(ns, key string) string {
	if ns == "" || ns == "default" {
		return key
	}
	return ns + ":" + key
}

// splitQualified undoes qualified.
func splitQualified(k string) (ns, key string) {
	if ns, key, ok := strings.Cut(k, ":"); ok {
		return ns, key
	}
	return "", k
}

// counterDeltas sums Prometheus counters of several peers over time,
// per label value: a peer's counter that went down was restarted and
// counts again from 0. Safe for concurrent use.
type counterDeltas struct {
	mu    sync.Mutex
	last  []map[string]float64 // by peer, by label value
	total map[string]float64
}

func newCounterDeltas(peers int) *counterDeltas {
	c := &counterDeltas{last: make([]map[string]float64, peers), total: map[string]float64{}}
	for i := range c.last {
		c.last[i] = map[string]float64{}
	}
	return c
}

// observe records peer i's samples (label value -> counter).
func (c *counterDeltas) observe(i int, samples map[string]float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for l, v := range samples {
		last := c.last[i][l]
		if v < last {
			last = 0
		}
		c.total[l] += v - last
		c.last[i][l] = v
	}
}

// totals returns the sums so far.
func (c *counterDeltas) totals() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.total))
	for l, v := range c.total {
		out[l] = int(v)
	}
	return out
}

// MetricByLabel returns the samples of a Prometheus counter by the value
// of one of its labels (samples without it under "").
func (c *Client) MetricByLabel(ctx context.Context, addr, name, label string) (map[string]float64, error) {
	b, err := c.raw(ctx, "GET", addr, "/metrics", nil, nil)
	if err != nil {
		return nil, err
	}
	re := regexp.MustCompile(label + `="([^"]*)"`)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name) || len(line) == len(name) || (line[len(name)] != ' ' && line[len(name)] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		l := ""
		if m := re.FindStringSubmatch(line); m != nil {
			l = m[1]
		}
		out[l] += v
	}
	return out, nil
}
