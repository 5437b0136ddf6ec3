package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/node"
)

// The export, import and backup endpoints are global routes (they span
// namespaces): each checks the caller's token against every namespace
// it touches itself, with mayAccess.

// tokenKey carries the request's token entry (nil without tokens) from
// register to the handlers that check several namespaces.
type tokenKey struct{}

func withToken(r *http.Request, tok *tokenEntry) *http.Request {
	if tok == nil {
		return r // without tokens there is nothing to carry (mayAccess admits a nil token)
	}
	return r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok))
}

// mayAccess returns 403 forbidden unless the request's token admits every
// namespace of nss (the route has checked read or write); verb and
// holder word the refusal.
func (s *Server) mayAccess(r *http.Request, nss []string, verb, holder string) error {
	tok, _ := r.Context().Value(tokenKey{}).(*tokenEntry)
	if tok == nil {
		return nil
	}
	for _, ns := range nss {
		if !tok.allows(ns) {
			return s.refuse(r, errorf(http.StatusForbidden, apitype.CodeForbidden, "the token may not %s namespace %q, which the %s holds", verb, ns, holder))
		}
	}
	return nil
}

// exportStates streams an export: ?ns= (repeated or comma-separated; none:
// every namespace), ?prefix=, ?tombstones=true.
func (s *Server) exportStates(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var nss []string
	for _, v := range q["ns"] {
		for _, ns := range strings.Split(v, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				nss = append(nss, ns)
			}
		}
	}
	if nss == nil {
		nss = s.node.Namespaces()
	}
	tombs, err := boolParam(q.Get("tombstones"))
	if err != nil {
		return errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "tombstones=%q: %v", q.Get("tombstones"), err)
	}
	if err := s.mayAccess(r, nss, "read", "export"); err != nil {
		return err
	}
	opts := node.ExportOptions{Namespaces: nss, Prefix: []byte(q.Get("prefix")), Tombstones: tombs}
	if len(opts.Prefix) == 0 {
		st := s.node.Status()
		var n uint64
		for _, ns := range nss {
			n += st.Namespaces[ns].Items
			if tombs {
				n += st.Namespaces[ns].Tombstones
			}
		}
		w.Header().Set(apitype.ExportStatesHeader, strconv.FormatUint(n, 10))
	}
	w.Header().Set("Content-Type", apitype.ExportContentType)
	w.Header().Set(apitype.PeerHeader, s.node.Peer().ID().String())
	sw := &startedWriter{w: w}
	stats, err := s.node.Export(r.Context(), sw, opts)
	if err != nil && sw.started {
		// The answer is under way: end it without an end record, which
		// the reader reports as an incomplete export.
		s.log.Warn("export cut short", "states", stats.States, "err", err)
		return nil
	}
	return err
}

// startedWriter records whether anything was written (after which an
// error can no longer be answered as JSON).
type startedWriter struct {
	w       http.ResponseWriter
	started bool
}

func (sw *startedWriter) Write(p []byte) (int, error) {
	sw.started = true
	return sw.w.Write(p)
}

// importStates merges the export in the body; the token must write every
// namespace the export's header names.
func (s *Server) importStates(w http.ResponseWriter, r *http.Request) error {
	st, err := s.node.Import(r.Context(), r.Body, node.ImportOptions{Check: func(h wire.ExportHeader) error {
		return s.mayAccess(r, h.Namespaces, "write", "export")
	}})
	if err != nil {
		if st.States > 0 {
			return fmt.Errorf("after %d states (%d changed this peer, which keeps them): %w", st.States, st.Changed, err)
		}
		return err
	}
	if st.Namespaces == nil {
		st.Namespaces = []string{}
	}
	return writeJSON(w, apitype.ImportResult{States: st.States, Changed: st.Changed, Refused: st.Refused, Namespaces: st.Namespaces})
}

// backup streams a backup of the whole peer (see node.Backup); the token
// must read every namespace the peer holds.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) error {
	if err := s.mayAccess(r, s.node.Namespaces(), "read", "peer"); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(apitype.PeerHeader, s.node.Peer().ID().String())
	sw := &startedWriter{w: w}
	if err := s.node.Backup(sw); err != nil {
		if sw.started {
			s.log.Warn("backup cut short", "err", err)
			return nil
		}
		return err
	}
	return nil
}
