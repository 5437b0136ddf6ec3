package wire

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"

	"github.com/grapevine-kv/grapevine/crdt"
)

// The export format: what `grapevine export` writes and `grapevine import`
// reads, a stream of a peer's CRDT states. It is a sequence of records,
// each uvarint(length) then length bytes:
//
//	header  JSON ExportHeader: {"format": "grapevine-export", "version": 1, ...}
//	state*  'S' uvarint(len ns) ns type(1) uvarint(len key) key state   (state: crdt.Encode)
//	end     'E' uvarint(count of state records) crc32c(4, big endian)
//
// The crc32c (Castagnoli) covers the bodies (after the length) of every
// state record in order, so a cut or damaged stream is detected at its
// end. State records come in namespace, type, key order; each namespace is
// one of the header's; the type byte repeats the state's own tag (a
// mismatch is malformed); states are in crdt's canonical encoding, so an
// export of equal states is byte-identical. Nothing may follow the end
// record.
const (
	ExportFormat  = "grapevine-export"
	ExportVersion = 1
	// MaxExportHeader bounds the header record (its namespace list).
	MaxExportHeader = 64 << 10
	// MaxExportRecord bounds a state record: the largest state a peer may
	// hold, its key and namespace.
	MaxExportRecord = MaxValueSizeLimit + StateOverhead
)

const (
	exportState = 'S'
	exportEnd   = 'E'
)

// ErrExportTruncated: an export stream ends before its end record (the
// export was cut short: a full disk, a killed export, a partial copy).
var ErrExportTruncated = errors.New("wire: the export ends before its end record: it is incomplete")

// ExportHeader is the first record of an export: what it holds and where
// from. Only Format and Version decide how the rest is read.
type ExportHeader struct {
	Format     string   `json:"format"`     // ExportFormat
	Version    int      `json:"version"`    // ExportVersion
	Peer       string   `json:"peer"`       // the exporting peer's ID
	Created    string   `json:"created"`    // when the export began, RFC 3339
	Namespaces []string `json:"namespaces"` // every namespace that may follow, sorted
	Prefix     string   `json:"prefix,omitempty"`
	Tombstones bool     `json:"tombstones"` // deleted and expired states included
}

// ExportRecord is one state of an export.
type ExportRecord struct {
	Namespace string
	Key       []byte
	State     crdt.State
}

// ExportWriter writes an export stream. Not safe for concurrent use.
type ExportWriter struct {
	w     *bufio.Writer
	crc   hash.Hash32
	count uint64
	buf   []byte
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// NewExportWriter writes h (with Format and Version set) to w and returns
// a writer for the states. Close must be called to write the end record.
func NewExportWriter(w io.Writer, h ExportHeader) (*ExportWriter, error) {
	h.Format, h.Version = ExportFormat, ExportVersion
	if h.Namespaces == nil {
		h.Namespaces = []string{}
	}
	js, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if len(js) > MaxExportHeader {
		return nil, fmt.Errorf("wire: export header of %d bytes exceeds %d", len(js), MaxExportHeader)
	}
	ew := &ExportWriter{w: bufio.NewWriterSize(w, 64<<10), crc: crc32.New(castagnoli)}
	return ew, ew.record(js)
}

func (ew *ExportWriter) record(body []byte) error {
	var l [binary.MaxVarintLen64]byte
	if _, err := ew.w.Write(l[:binary.PutUvarint(l[:], uint64(len(body)))]); err != nil {
		return err
	}
	_, err := ew.w.Write(body)
	return err
}

// WriteEncoded writes one state record; encoded is crdt.Encode of a state
// of type typ (written as is, not copied after return).
func (ew *ExportWriter) WriteEncoded(ns string, typ crdt.Type, key, encoded []byte) error {
	b := append(ew.buf[:0], exportState)
	b = appendExportBytes(b, []byte(ns))
	b = append(b, byte(typ))
	b = appendExportBytes(b, key)
	b = append(b, encoded...)
	ew.buf = b
	if len(b) > MaxExportRecord {
		return fmt.Errorf("wire: export record of %d bytes exceeds %d", len(b), MaxExportRecord)
	}
	ew.crc.Write(b)
	ew.count++
	return ew.record(b)
}

// Close writes the end record and flushes; it does not close the
// underlying writer.
func (ew *ExportWriter) Close() error {
	b := binary.AppendUvarint([]byte{exportEnd}, ew.count)
	b = binary.BigEndian.AppendUint32(b, ew.crc.Sum32())
	if err := ew.record(b); err != nil {
		return err
	}
	return ew.w.Flush()
}

func appendExportBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// ExportReader reads an export stream. Not safe for concurrent use.
type ExportReader struct {
	r      *bufio.Reader
	header ExportHeader
	crc    hash.Hash32
	count  uint64
	done   bool
	buf    []byte
}

// NewExportReader reads and checks the header of the export in r. An
// error wraps ErrMalformed (not an export, an unknown version) or is the
// reader's.
func NewExportReader(r io.Reader) (*ExportReader, error) {
	er := &ExportReader{r: bufio.NewReaderSize(r, 64<<10), crc: crc32.New(castagnoli)}
	body, err := er.next(MaxExportHeader)
	if errors.Is(err, ErrExportTruncated) {
		return nil, malformed("not a grapevine export: no header")
	}
	if err != nil {
		return nil, err
	}
	var h ExportHeader
	if err := json.Unmarshal(body, &h); err != nil || h.Format != ExportFormat {
		return nil, malformed("not a grapevine export (no %q header)", ExportFormat)
	}
	if h.Version != ExportVersion {
		return nil, malformed("export format version %d; this grapevine reads version %d", h.Version, ExportVersion)
	}
	if !slices.IsSorted(h.Namespaces) {
		return nil, malformed("export header: namespaces not sorted")
	}
	for _, ns := range h.Namespaces {
		if len(ns) == 0 || len(ns) > MaxNamespaceLen {
			return nil, malformed("export header: namespace of %d bytes", len(ns))
		}
	}
	er.header = h
	return er, nil
}

// Header returns the export's header.
func (er *ExportReader) Header() ExportHeader { return er.header }

// next reads one record's body (valid until the next call).
func (er *ExportReader) next(limit int) ([]byte, error) {
	n, err := binary.ReadUvarint(er.r)
	if err == io.EOF {
		return nil, ErrExportTruncated
	}
	if err != nil {
		return nil, er.cut(err)
	}
	if n == 0 || n > uint64(limit) {
		return nil, malformed("export record of %d bytes (limit %d)", n, limit)
	}
	if cap(er.buf) < int(n) {
		er.buf = make([]byte, n)
	}
	er.buf = er.buf[:n]
	if _, err := io.ReadFull(er.r, er.buf); err != nil {
		return nil, er.cut(err)
	}
	return er.buf, nil
}

func (er *ExportReader) cut(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return ErrExportTruncated
	}
	return err
}

// Next returns the next state. After the end record (checked: count and
// checksum, nothing after it) it returns io.EOF. A malformed record is an
// error wrapping ErrMalformed; a stream cut short, ErrExportTruncated. The
// record does not alias the reader's buffers.
func (er *ExportReader) Next() (ExportRecord, error) {
	if er.done {
		return ExportRecord{}, io.EOF
	}
	body, err := er.next(MaxExportRecord)
	if err != nil {
		return ExportRecord{}, err
	}
	switch body[0] {
	case exportEnd:
		return ExportRecord{}, er.end(body[1:])
	case exportState:
	default:
		return ExportRecord{}, malformed("export record of unknown kind %#x", body[0])
	}
	rec, err := er.parseState(body[1:])
	if err != nil {
		return ExportRecord{}, err
	}
	er.crc.Write(body)
	er.count++
	return rec, nil
}

func (er *ExportReader) parseState(p []byte) (ExportRecord, error) {
	ns, p, err := readExportBytes(p, MaxNamespaceLen)
	if err != nil || len(ns) == 0 {
		return ExportRecord{}, malformed("export record: bad namespace")
	}
	if _, ok := slices.BinarySearch(er.header.Namespaces, string(ns)); !ok {
		return ExportRecord{}, malformed("export record in namespace %q, which the header does not list", ns)
	}
	if len(p) < 1 {
		return ExportRecord{}, malformed("export record: no type")
	}
	typ := crdt.Type(p[0])
	key, p, err := readExportBytes(p[1:], MaxKeyLen)
	if err != nil || len(key) == 0 {
		return ExportRecord{}, malformed("export record: bad key")
	}
	st, err := crdt.Decode(p)
	if err != nil {
		return ExportRecord{}, fmt.Errorf("%w: export record %q: %w", ErrMalformed, key, err)
	}
	if st.Type() != typ {
		return ExportRecord{}, malformed("export record %q: type %s holds a %s", key, typ, st.Type())
	}
	return ExportRecord{Namespace: string(ns), Key: append([]byte(nil), key...), State: st}, nil
}

func (er *ExportReader) end(p []byte) error {
	count, n := binary.Uvarint(p)
	if n <= 0 || len(p) != n+4 {
		return malformed("export end record of %d bytes", len(p))
	}
	if count != er.count {
		return malformed("export end record counts %d states, the export holds %d", count, er.count)
	}
	if sum := binary.BigEndian.Uint32(p[n:]); sum != er.crc.Sum32() {
		return malformed("export checksum mismatch: the export is damaged")
	}
	if _, err := er.r.ReadByte(); err != io.EOF {
		return malformed("data after the export's end record")
	}
	er.done = true
	return io.EOF
}

func readExportBytes(p []byte, max int) ([]byte, []byte, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(max) || n > uint64(len(p)-k) {
		return nil, nil, malformed("bad length")
	}
	return p[k : k+int(n)], p[k+int(n):], nil
}
