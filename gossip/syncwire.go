package gossip

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Frames of the /grapevine/sync/1 stream: uvarint(length) followed by
// length bytes, whose first byte is the frame kind.
const (
	frameHello     = 1 // protobuf: repeated string namespaces = 1
	frameReconcile = 2 // a reconcile.Message
	frameStates    = 3 // a wire.Batch of states
	frameEnd       = 4 // this side has sent all its states of the namespace
	frameError     = 5 // UTF-8 text: the sender gives up
)

// Sync stream limits.
const (
	// MaxFrameSize bounds a frame: a reconcile message (≤ 4 MiB) or a
	// chunk of states (one value ≤ 1 MiB, chunks of DefaultChunkBytes).
	MaxFrameSize = 5 << 20
	// MaxNamespaces bounds the namespaces one hello may list.
	MaxNamespaces = 1024
)

// ErrProtocol is wrapped by every violation of the sync protocol by the peer.
var ErrProtocol = errors.New("gossip: sync protocol violation")

func protocolErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// frameConn reads and writes frames, counting bytes. progress, if set, is
// called at every frame read or written (to push the idle deadline back).
type frameConn struct {
	r         *bufio.Reader
	w         *bufio.Writer
	sent, rcv int64
	progress  func()
	buf       []byte // the last frame read, reused
}

func newFrameConn(rw io.ReadWriter) *frameConn {
	return &frameConn{r: bufio.NewReaderSize(rw, 64<<10), w: bufio.NewWriterSize(rw, 64<<10)}
}

func (c *frameConn) write(kind byte, payload []byte) error {
	if c.progress != nil {
		c.progress()
	}
	var hdr [binary.MaxVarintLen64 + 1]byte
	n := binary.PutUvarint(hdr[:], uint64(len(payload)+1))
	hdr[n] = kind
	if _, err := c.w.Write(hdr[:n+1]); err != nil {
		return err
	}
	if _, err := c.w.Write(payload); err != nil {
		return err
	}
	c.sent += int64(n + 1 + len(payload))
	return nil
}

func (c *frameConn) flush() error { return c.w.Flush() }

// read returns the next frame. The payload is valid until the next read.
func (c *frameConn) read() (byte, []byte, error) {
	size, err := binary.ReadUvarint(c.r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, nil, io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	if size == 0 || size > MaxFrameSize {
		return 0, nil, protocolErr("frame of %d bytes (limit %d)", size, MaxFrameSize)
	}
	buf := slices.Grow(c.buf[:0], int(size))[:size]
	c.buf = buf
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return 0, nil, err
	}
	c.rcv += int64(protowire.SizeVarint(size)) + int64(size)
	if c.progress != nil {
		c.progress()
	}
	if buf[0] == frameError {
		return 0, nil, fmt.Errorf("gossip: peer ended the sync: %.200s", buf[1:])
	}
	return buf[0], buf[1:], nil
}

// expect reads a frame of the given kind.
func (c *frameConn) expect(kind byte) ([]byte, error) {
	k, p, err := c.read()
	if err != nil {
		return nil, err
	}
	if k != kind {
		return nil, protocolErr("got frame kind %d, want %d", k, kind)
	}
	return p, nil
}

func marshalHello(namespaces []string) []byte {
	var b []byte
	for _, ns := range namespaces {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, ns)
	}
	return b
}

// unmarshalHello decodes a hello; validNS rejects a bad namespace name.
func unmarshalHello(b []byte, validNS func(string) error) ([]string, error) {
	var out []string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protocolErr("hello: bad tag")
		}
		b = b[n:]
		if num != 1 || typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, protocolErr("hello: bad field %d", num)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, protocolErr("hello: bad namespace")
		}
		b = b[n:]
		if len(out) == MaxNamespaces {
			return nil, protocolErr("hello lists more than %d namespaces", MaxNamespaces)
		}
		if err := validNS(string(v)); err != nil {
			return nil, protocolErr("hello: %v", err)
		}
		out = append(out, string(v))
	}
	return out, nil
}
