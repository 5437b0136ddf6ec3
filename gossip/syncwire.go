package gossip

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/grapevine-kv/grapevine/internal/wire"
)

// ErrProtocol is wrapped by every violation of the sync protocol by the peer.
var ErrProtocol = errors.New("gossip: sync protocol violation")

func protocolErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// frameConn reads and writes the frames of wire's sync framing, counting
// bytes. progress, if set, is called at every frame read or written (to
// push the idle deadline back).
type frameConn struct {
	r         *bufio.Reader
	w         *bufio.Writer
	sent, rcv int64
	progress  func()
	buf       []byte // the payload of the last frame read, reused
	// statesLimit bounds a states frame read (wire.ReadFrameLimit);
	// peerStatesLimit bounds one written, as the peer's hello said.
	statesLimit, peerStatesLimit int
	hdr                          []byte // scratch for frame headers
	// plans is set once both hellos said they speak plans (bulk.go).
	plans bool
	// s2 is set once the peer's hello said it reads compressed states;
	// zbuf and dbuf are the scratch of compressing and decompressing them.
	s2         bool
	zbuf, dbuf []byte
}

func newFrameConn(rw io.ReadWriter) *frameConn {
	return &frameConn{r: bufio.NewReaderSize(rw, 64<<10), w: bufio.NewWriterSize(rw, 64<<10),
		statesLimit: wire.MaxFrameSize, peerStatesLimit: wire.MaxFrameSize}
}

func (c *frameConn) write(kind wire.FrameKind, payload []byte) error {
	if c.progress != nil {
		c.progress()
	}
	c.hdr = wire.AppendFrameHeader(c.hdr[:0], kind, len(payload))
	if _, err := c.w.Write(c.hdr); err != nil {
		return err
	}
	if _, err := c.w.Write(payload); err != nil {
		return err
	}
	c.sent += int64(len(c.hdr) + len(payload))
	return nil
}

// writeStates writes a states frame of payload p, compressed if the peer
// reads compressed states and that makes it smaller.
func (c *frameConn) writeStates(p []byte) error {
	if !c.s2 {
		return c.write(wire.FrameStates, p)
	}
	kind, payload := wire.CompressStates(c.zbuf, p)
	if kind == wire.FrameStatesS2 {
		c.zbuf = payload
	}
	return c.write(kind, payload)
}

// states returns the states payload of a frame read (kind, p): p itself,
// or p decompressed; it is valid until the next call.
func (c *frameConn) states(kind wire.FrameKind, p []byte) ([]byte, error) {
	out, err := wire.StatesPayload(kind, p, c.dbuf, c.statesLimit)
	if err != nil {
		return nil, protocolErr("%w", err)
	}
	if kind == wire.FrameStatesS2 {
		c.dbuf = out
	}
	return out, nil
}

func (c *frameConn) flush() error { return c.w.Flush() }

// read returns the next frame. The payload is valid until the next read.
// An error frame from the peer is returned as an error.
func (c *frameConn) read() (wire.FrameKind, []byte, error) {
	f, err := wire.ReadFrameLimit(c.r, c.buf, c.statesLimit)
	switch {
	case errors.Is(err, io.EOF):
		return 0, nil, io.ErrUnexpectedEOF // the peer left mid-protocol
	case errors.Is(err, wire.ErrMalformed):
		return 0, nil, protocolErr("%w", err)
	case err != nil:
		return 0, nil, err
	}
	c.buf = f.Payload
	c.rcv += int64(f.Size)
	if c.progress != nil {
		c.progress()
	}
	if f.Kind == wire.FrameError {
		return 0, nil, fmt.Errorf("gossip: peer ended the sync: %.200s", f.Payload)
	}
	return f.Kind, f.Payload, nil
}

// expect reads a frame of the given kind.
func (c *frameConn) expect(kind wire.FrameKind) ([]byte, error) {
	k, p, err := c.read()
	if err != nil {
		return nil, err
	}
	if k != kind {
		return nil, protocolErr("got frame kind %d, want %d", k, kind)
	}
	return p, nil
}

// readHello decodes a hello payload; validNS rejects a bad namespace name.
func readHello(p []byte, validNS func(string) error) ([]string, error) {
	namespaces, err := wire.UnmarshalHello(p)
	if err != nil {
		return nil, protocolErr("%w", err)
	}
	for _, ns := range namespaces {
		if err := validNS(ns); err != nil {
			return nil, protocolErr("hello: %w", err)
		}
	}
	return namespaces, nil
}
