package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// cut is a directed pair of peer indexes: packets (or connections) from
// From to To are dropped.
type cut struct{ From, To int }

// partitioner applies network partitions between peers.
type partitioner interface {
	// Name says which mechanism is used.
	Name() string
	// Apply replaces every cut in force by cuts (none heals the network).
	Apply(ctx context.Context, cuts []cut) error
	// Close removes everything it installed.
	Close() error
}

// nftPartitioner drops packets between the peers' loopback addresses with
// an nftables table of its own. Each daemon listens on its own 127.x.y.z
// address, and libp2p dials loopback peers from its listening address and
// port (reuseport), so the source address names the sending peer.
type nftPartitioner struct {
	table string
	ips   []string
}

// Name says which mechanism is used.
func (p *nftPartitioner) Name() string { return "nftables (table inet " + p.table + ")" }

func nft(ctx context.Context, script string) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Apply replaces the table's rules by cuts, atomically.
func (p *nftPartitioner) Apply(ctx context.Context, cuts []cut) error {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\n", p.table, p.table)
	fmt.Fprintf(&b, "table inet %s {\n chain out {\n  type filter hook output priority 0; policy accept;\n", p.table)
	for _, c := range cuts {
		fmt.Fprintf(&b, "  ip saddr %s ip daddr %s drop\n", p.ips[c.From], p.ips[c.To])
	}
	b.WriteString(" }\n}\n")
	return nft(ctx, b.String())
}

// Close deletes the table.
func (p *nftPartitioner) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return nft(ctx, fmt.Sprintf("table inet %s\ndelete table inet %s\n", p.table, p.table))
}

// probeNFT checks that nftables really drops loopback traffic here: it
// listens on ip, installs a rule dropping packets to it, and expects a dial
// to time out. It returns why not, or nil.
func probeNFT(ctx context.Context, table, ip string) error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return errors.New("the nft command is not installed (apt-get install nftables)")
	}
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", ip, err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	script := fmt.Sprintf("table inet %[1]s\ndelete table inet %[1]s\ntable inet %[1]s {\n chain out {\n  type filter hook output priority 0; policy accept;\n  ip daddr %[2]s tcp dport %[3]d drop\n }\n}\n", table, ip, port)
	if err := nft(ctx, script); err != nil {
		return err
	}
	defer func() {
		_ = nft(context.Background(), fmt.Sprintf("table inet %[1]s\ndelete table inet %[1]s\n", table))
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 500*time.Millisecond)
	if err == nil {
		_ = c.Close()
		return errors.New("a rule dropping a loopback port did not stop a connection to it")
	}
	return nil
}

// gaterPartitioner asks the daemons' connection gaters (test hooks) to
// refuse each other, on both sides of each cut. A connection gater works on
// connections, not packets, so a one-way cut From→To cuts the connection
// both ways.
type gaterPartitioner struct {
	c      *Client
	peers  []*Daemon
	reason string
}

// Name says which mechanism is used and why.
func (p *gaterPartitioner) Name() string {
	return "connection gater via test hooks (" + p.reason + ")"
}

// Apply unblocks everyone, then blocks the cut pairs on the receiving side.
func (p *gaterPartitioner) Apply(ctx context.Context, cuts []cut) error {
	var errs []error
	for _, d := range p.peers {
		if d.Running() && !d.Paused() {
			if err := p.c.Hook(ctx, d.API(), "unblock", url.Values{"all": {"true"}}); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", d.Name(), err))
			}
		}
	}
	block := map[int][]string{}
	for _, c := range cuts {
		block[c.To] = append(block[c.To], p.peers[c.From].ID())
		block[c.From] = append(block[c.From], p.peers[c.To].ID())
	}
	for i, ids := range block {
		d := p.peers[i]
		if !d.Running() || d.Paused() {
			continue // the other side's gater holds the cut
		}
		if err := p.c.Hook(ctx, d.API(), "block", url.Values{"peer": {strings.Join(ids, ",")}}); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Close unblocks everyone.
func (p *gaterPartitioner) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.Apply(ctx, nil)
}
