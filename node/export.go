package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/storage"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

// Export and import: a peer's CRDT states as a stream in the export format
// (wire.ExportWriter), and such a stream merged back in. An import is a
// remote source like any peer: every state goes through admit (a signed
// namespace refuses what its writers did not sign), the clock's drift
// check, and the apply loop's merge, so importing twice, or into a peer
// with newer data, changes nothing the merge rules would not.

// ExportOptions select what Export writes.
type ExportOptions struct {
	// Namespaces to export; nil: every namespace this peer holds.
	Namespaces []string
	// Prefix restricts the export to keys starting with it.
	Prefix []byte
	// Tombstones includes deleted and expired values, reset counters that
	// read 0 and empty sets (what List hides). Without them an import
	// cannot carry a delete to a peer that still holds the value.
	Tombstones bool
}

// ExportStats says what an export wrote.
type ExportStats struct {
	States     int      // state records written
	Namespaces []string // the namespaces of the header
}

// ImportOptions tune Import.
type ImportOptions struct {
	// Check, if set, is called with the export's header before any state
	// is applied (the API checks the caller's token against its
	// namespaces); its error ends the import, which then changed nothing.
	Check func(wire.ExportHeader) error
}

// ImportStats says what an import did.
type ImportStats struct {
	States  int // state records read
	Changed int // states that changed this peer (the others it already had, or newer)
	// Refused counts states this peer would refuse from any peer: not
	// signed by a writer of a signed namespace, stamped too far in the
	// future, or too large for this peer. They changed nothing.
	Refused    int
	Namespaces []string // the namespaces of the header
}

// importBatch bounds the states applied in one apply-loop request.
const importBatch = 256

// Namespaces returns the namespaces this peer holds states in, sorted.
func (n *Node) Namespaces() []string { return n.db.Namespaces() }

// Export writes the states selected by opts to w in the export format,
// from one consistent snapshot of this peer, and returns what it wrote.
// It blocks until done, ctx ends (ErrCanceled) or the node closes.
func (n *Node) Export(ctx context.Context, w io.Writer, opts ExportOptions) (ExportStats, error) {
	if err := n.Err(); err != nil {
		return ExportStats{}, err
	}
	nss := opts.Namespaces
	if nss == nil {
		nss = n.db.Namespaces()
	}
	nss = slices.Compact(slices.Sorted(slices.Values(nss)))
	for _, ns := range nss {
		if err := storage.ValidNamespace(ns); err != nil {
			return ExportStats{}, fmt.Errorf("%w: %q: use 1 to 64 of a-z 0-9 . _ -", ErrInvalidNamespace, ns)
		}
	}
	if len(opts.Prefix) > MaxKeyLen {
		return ExportStats{}, fmt.Errorf("%w: a prefix is at most %d bytes", ErrInvalidKey, MaxKeyLen)
	}
	st := ExportStats{Namespaces: nss}
	ew, err := wire.NewExportWriter(w, wire.ExportHeader{
		Peer: libp2ppeer.ID(n.self).String(), Created: n.cfg.Wall().UTC().Format(time.RFC3339),
		Namespaces: nss, Prefix: string(opts.Prefix), Tombstones: opts.Tombstones,
	})
	if err != nil {
		return st, fmt.Errorf("%w: writing the export: %w", ErrCanceled, err)
	}
	now := n.now()
	err = n.db.Scan(nss, opts.Prefix, func(it storage.ScanItem) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n.ctx.Err() != nil {
			return ErrClosed
		}
		if !opts.Tombstones && !live(it.State, now) {
			return nil
		}
		if err := ew.WriteEncoded(it.Namespace, it.Type, it.Key, it.Encoded); err != nil {
			return errWriting{err}
		}
		st.States++
		return nil
	})
	if err == nil {
		if err = ew.Close(); err != nil {
			err = errWriting{err}
		}
	}
	var we errWriting
	if errors.As(err, &we) {
		// The reader went away (or the disk filled): not this peer's fault.
		return st, fmt.Errorf("%w: writing the export: %w", ErrCanceled, we.err)
	}
	return st, translate(err, ErrStorage)
}

// errWriting marks a failure to write the export (as opposed to reading
// the store).
type errWriting struct{ err error }

func (e errWriting) Error() string { return e.err.Error() }

// Import reads an export from r and merges every state into this peer
// through the path states from other peers take (see the top of this
// file); the states that change something are pushed to the other peers
// like local writes. It returns when the last state is durable. A
// malformed, damaged or truncated export is ErrInvalidArgument; the states
// before the fault are applied (a state merged twice is harmless, so
// import the complete file again).
func (n *Node) Import(ctx context.Context, r io.Reader, opts ImportOptions) (ImportStats, error) {
	var st ImportStats
	if err := n.Err(); err != nil {
		return st, err
	}
	er, err := wire.NewExportReader(r)
	if err != nil {
		return st, importError(err)
	}
	h := er.Header()
	st.Namespaces = h.Namespaces
	for _, ns := range h.Namespaces {
		if err := storage.ValidNamespace(ns); err != nil {
			return st, fmt.Errorf("%w: the export names namespace %q: %w", ErrInvalidArgument, ns, err)
		}
	}
	if opts.Check != nil {
		if err := opts.Check(h); err != nil {
			return st, err
		}
	}
	var ns string
	var batch []wire.Delta
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		changed, refused, err := n.importDeltas(ctx, ns, batch)
		st.Changed += changed
		st.Refused += refused
		batch = batch[:0]
		return err
	}
	for {
		rec, err := er.Next()
		if err == io.EOF {
			return st, flush()
		}
		if err != nil {
			return st, errors.Join(flush(), importError(err))
		}
		st.States++
		if rec.Namespace != ns || len(batch) >= importBatch {
			if err := flush(); err != nil {
				return st, err
			}
			ns = rec.Namespace
		}
		batch = append(batch, wire.Delta{Key: rec.Key, State: rec.State})
	}
}

// importDeltas applies one batch of imported states of ns as remote
// states and counts what changed and what was refused.
func (n *Node) importDeltas(ctx context.Context, ns string, deltas []wire.Delta) (changed, refused int, err error) {
	if err := n.join(ns); err != nil {
		return 0, 0, err
	}
	admitted := n.admitDeltas(ns, deltas)
	ops := n.remoteOps(ns, admitted)
	refused = len(deltas) - len(ops)
	if len(ops) == 0 {
		return 0, refused, nil
	}
	results, err := n.enqueue(ctx, true, ops)
	if err != nil {
		return 0, refused, err
	}
	for _, r := range results {
		switch {
		case r.Err != nil:
			refused++
		case r.Changed:
			changed++
		}
	}
	return changed, refused, nil
}

func importError(err error) error {
	if errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrExportTruncated) {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return translate(err, ErrCanceled) // the reader failed: the client went away
}

// Backup writes a full backup of this peer's database to w (see
// storage.DB.Backup: one consistent snapshot, written decrypted), without
// the identity key. It blocks until done.
func (n *Node) Backup(w io.Writer) error {
	if err := n.Err(); err != nil {
		return err
	}
	return translate(n.db.Backup(w), ErrStorage)
}
