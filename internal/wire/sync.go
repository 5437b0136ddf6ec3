package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// ProtocolRoot begins every grapevine protocol ID.
const ProtocolRoot = "/grapevine/"

// ProtocolPrefix returns the prefix of every libp2p protocol ID of network
// ("/grapevine/<network>"): the DHT's and anti-entropy's protocols sit under
// it, so peers of different networks share no protocol. It is a plain
// string, so that wire needs no libp2p import; convert with protocol.ID.
func ProtocolPrefix(network string) string { return ProtocolRoot + network }

// SyncProtocol returns the libp2p protocol ID of anti-entropy streams of
// network: "/grapevine/<network>/sync/1".
func SyncProtocol(network string) string { return ProtocolPrefix(network) + "/sync/1" }

// ProtocolNetwork returns the network of a grapevine protocol ID
// ("/grapevine/<network>/<name>/<version>", e.g. "/grapevine/beta/sync/1"),
// and false for any other protocol ID.
func ProtocolNetwork(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, ProtocolRoot)
	if !ok {
		return "", false
	}
	network, rest, ok := strings.Cut(rest, "/")
	if !ok || network == "" {
		return "", false
	}
	name, version, ok := strings.Cut(rest, "/")
	if !ok || name == "" || version == "" {
		return "", false
	}
	return network, true
}

// FrameKind is the first byte of a sync frame: it says what the payload is.
type FrameKind byte

// The frames of a SyncProtocol stream.
const (
	FrameHello     FrameKind = 1 // a hello: AppendHello's encoding
	FrameReconcile FrameKind = 2 // a reconcile.Message
	FrameStates    FrameKind = 3 // a Batch of states, one chunk
	FrameEnd       FrameKind = 4 // no payload: the sender has sent all its states of the namespace
	FrameError     FrameKind = 5 // UTF-8 text: the sender gives up
	FramePlan      FrameKind = 6 // a Plan (AppendPlan), if both hellos set plans (AppendHelloPlans)
	FrameStatesS2  FrameKind = 7 // a FrameStates payload compressed (CompressStates), if the reader's hello set field 6
)

// Sync stream limits.
const (
	// MaxFrameSize bounds a frame (kind byte and payload): a reconcile
	// message (≤ 4 MiB) or a chunk of states (chunks of about 1 MiB plus
	// one delta of at most MaxGossipMessage).
	MaxFrameSize = 5 << 20
	// MaxHelloNamespaces bounds the namespaces one hello may list.
	MaxHelloNamespaces = 1024
	// MaxValueSizeLimit is the hard maximum of a peer's value size limit
	// (node.Config.MaxValueSize, the daemon's --max-value-size): 32 MiB. A
	// state travels whole in one states frame, so it bounds the largest
	// frame a peer ever reads (MaxStatesFrame), and with it the memory a
	// peer can make another allocate (a round holds about three frames).
	MaxValueSizeLimit = 32 << 20
	// StateOverhead is what a state adds to its value in a states frame or
	// a gossip message: the key (≤ MaxKeyLen), the namespace, the crdt
	// encoding (stamp, origin, signature) and the framing, with margin.
	StateOverhead = 64 << 10
	// MaxStatesFrame is the largest states frame any peer accepts: one
	// state of a value of MaxValueSizeLimit.
	MaxStatesFrame = MaxValueSizeLimit + StateOverhead
)

// StatesFrameLimit returns the largest states frame (kind byte and
// payload) a peer that accepts values of up to maxValue bytes reads: large
// enough for a chunk (MaxFrameSize) and for one state of the largest
// value, whichever is larger, at most MaxStatesFrame. A frame of any other
// kind is bounded by MaxFrameSize.
func StatesFrameLimit(maxValue int) int {
	return min(max(MaxFrameSize, maxValue+StateOverhead), MaxStatesFrame)
}

// Gossip (push) message limits.
const (
	// GossipBatchTarget is the size a gossip message aims at: batches of
	// deltas are split at this size (a single larger delta travels alone).
	GossipBatchTarget = 256 << 10
	// MaxGossipMessage is the largest gossip message a peer accepts: it
	// holds a single delta of a value of 1 MiB (StateOverhead included).
	// A larger value is not gossiped: it replicates by anti-entropy, in a
	// round its writer starts at once with each of its sync partners.
	MaxGossipMessage = 1<<20 + StateOverhead
)

// AppendFrameHeader appends the header of a frame whose payload is
// payloadLen bytes long: uvarint(1 + payloadLen), then the kind byte. The
// payload follows the header.
func AppendFrameHeader(b []byte, kind FrameKind, payloadLen int) []byte {
	b = binary.AppendUvarint(b, uint64(payloadLen)+1)
	return append(b, byte(kind))
}

// AppendFrame appends a whole frame of kind with payload.
func AppendFrame(b []byte, kind FrameKind, payload []byte) []byte {
	return append(AppendFrameHeader(b, kind, len(payload)), payload...)
}

// FrameReader is what ReadFrame reads from; a *bufio.Reader is one.
type FrameReader interface {
	io.Reader
	io.ByteReader
}

// Frame is one frame read by ReadFrame.
type Frame struct {
	Kind    FrameKind
	Payload []byte // aliases the buffer given to ReadFrame
	Size    int    // bytes the frame took on the stream, header included
}

// ReadFrame reads one frame from r. The payload is read into buf, grown as
// needed; pass the previous Frame's Payload to reuse its memory. A length
// of zero, above MaxFrameSize or not minimally encoded is an error wrapping
// ErrMalformed, found before anything is allocated (so each frame has one
// encoding, AppendFrame's). ReadFrame returns io.EOF only if r ends
// before the frame begins, and io.ErrUnexpectedEOF if it ends inside it.
// It does not check the kind.
func ReadFrame(r FrameReader, buf []byte) (Frame, error) {
	return ReadFrameLimit(r, buf, MaxFrameSize)
}

// ReadFrameLimit is ReadFrame with a larger bound for states frames: a
// FrameStates or FrameStatesS2 frame may take up to statesLimit bytes (clamped to
// MaxFrameSize..MaxStatesFrame; see StatesFrameLimit), a frame of any
// other kind MaxFrameSize. Both are checked before the payload is
// allocated.
func ReadFrameLimit(r FrameReader, buf []byte, statesLimit int) (Frame, error) {
	statesLimit = min(max(statesLimit, MaxFrameSize), MaxStatesFrame)
	size, n, err := readLength(r)
	if err != nil {
		return Frame{}, err
	}
	if size == 0 || size > uint64(statesLimit) {
		return Frame{}, malformed("frame of %d bytes (want 1..%d)", size, statesLimit)
	}
	kind, err := r.ReadByte()
	if err != nil {
		return Frame{}, unexpected(err)
	}
	if FrameKind(kind) != FrameStates && FrameKind(kind) != FrameStatesS2 && size > MaxFrameSize {
		return Frame{}, malformed("frame of kind %d of %d bytes (want 1..%d)", kind, size, MaxFrameSize)
	}
	payload := slices.Grow(buf[:0], int(size-1))[:size-1]
	if _, err := io.ReadFull(r, payload); err != nil {
		return Frame{}, unexpected(err)
	}
	return Frame{Kind: FrameKind(kind), Payload: payload, Size: n + int(size)}, nil
}

// readLength reads a frame's length prefix, a minimal uvarint, and returns
// it with the number of bytes it took.
func readLength(r io.ByteReader) (uint64, int, error) {
	var x uint64
	for n := 0; n < binary.MaxVarintLen64; n++ {
		c, err := r.ReadByte()
		if err != nil {
			if n == 0 && errors.Is(err, io.EOF) {
				return 0, 0, io.EOF
			}
			return 0, 0, unexpected(err)
		}
		if c < 0x80 {
			if n > 0 && c == 0 {
				return 0, 0, malformed("frame length: non-minimal varint")
			}
			if n == binary.MaxVarintLen64-1 && c > 1 {
				return 0, 0, malformed("frame length: varint overflows 64 bits")
			}
			return x | uint64(c)<<(7*n), n + 1, nil
		}
		x |= uint64(c&0x7f) << (7 * n)
	}
	return 0, 0, malformed("frame length: varint overflows 64 bits")
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendHello appends the payload of a hello frame, the namespaces this
// side holds:
//
//	message Hello { repeated string namespaces = 1; }
func AppendHello(b []byte, namespaces []string) []byte {
	for _, ns := range namespaces {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, ns)
	}
	return b
}

// AppendHelloStatesLimit appends to a hello payload the largest states
// frame this side reads (field 2; see StatesFrameLimit), so that the peer
// never sends it a state it would refuse:
//
//	message Hello { repeated string namespaces = 1; uint64 states_limit = 2; }
func AppendHelloStatesLimit(b []byte, limit int) []byte {
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(limit))
}

// HelloStatesLimit returns the largest states frame a hello says its sender
// reads: MaxFrameSize if the hello does not say (a peer of an older
// version), and the stated value clamped to MaxFrameSize..MaxStatesFrame
// otherwise (every peer reads frames of MaxFrameSize). A malformed payload
// is an error wrapping ErrMalformed.
func HelloStatesLimit(b []byte) (int, error) {
	limit, found, err := helloVarint(b, 2, "states limit")
	if err != nil {
		return 0, err
	}
	if !found {
		limit = MaxFrameSize
	}
	return int(min(max(limit, MaxFrameSize), MaxStatesFrame)), nil
}

// UnmarshalHello decodes a hello payload. Unknown fields are skipped; a
// namespace must be 1..MaxNamespaceLen bytes (the caller checks its
// characters), and at most MaxHelloNamespaces may be listed. Errors wrap
// ErrMalformed. The result does not alias b.
func UnmarshalHello(b []byte) ([]string, error) {
	return helloStrings(b, 1, "namespace", MaxHelloNamespaces, func(ns string) error {
		if len(ns) == 0 || len(ns) > MaxNamespaceLen {
			return fmt.Errorf("namespace of %d bytes (want 1..%d)", len(ns), MaxNamespaceLen)
		}
		return nil
	})
}
