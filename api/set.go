package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/crdt"
)

// set serves /v1/set/{key}: GET the members (or, with ?member=, whether
// one is in), POST to add and DELETE to remove the members of an
// apitype.SetMembers body.
func (s *Server) set(w http.ResponseWriter, r *http.Request) error {
	key, err := keyOf(r)
	if err != nil {
		return err
	}
	ns := r.URL.Query().Get("ns")
	switch r.Method {
	case http.MethodGet:
		if r.URL.Query().Has("member") {
			m, err := base64.StdEncoding.DecodeString(r.URL.Query().Get("member"))
			if err != nil {
				return errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "member must be base64 (standard, padded), got %q", r.URL.Query().Get("member"))
			}
			ok, err := s.node.SetContains(s.servedBy(w, r), ns, []byte(key), m)
			if err != nil {
				return err
			}
			return writeJSON(w, apitype.SetContains{Key: key, Member: m, Contains: ok})
		}
		ms, err := s.node.SetMembers(s.servedBy(w, r), ns, []byte(key))
		if err != nil {
			return err
		}
		return writeJSON(w, apitype.Set{Key: key, Members: nonNil(ms)})
	case http.MethodPost, http.MethodDelete:
		var body apitype.SetMembers
		// Base64 takes 4 bytes for 3; a set holds at most a value's worth.
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, int64(s.maxValue)/3*4+64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return errorf(http.StatusRequestEntityTooLarge, apitype.CodeValueTooLarge, "the body exceeds the limit of %d bytes", tooBig.Limit)
			}
			return errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, `the body must be {"members": [base64, ...]}: %v`, err)
		}
		if r.Method == http.MethodPost {
			err = s.node.SetAdd(s.servedBy(w, r), ns, []byte(key), body.Members...)
		} else {
			err = s.node.SetRemove(s.servedBy(w, r), ns, []byte(key), body.Members...)
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return errMethod
}

func nonNil(ms [][]byte) [][]byte {
	if ms == nil {
		return [][]byte{}
	}
	return ms
}

// notValue answers a read of a register that is absent: if the name holds
// a counter or a set, a not_found that says so and how to read it;
// otherwise err as it is.
func (s *Server) notValue(r *http.Request, ns, key string, err error) error {
	types, terr := s.node.Types(r.Context(), ns, []byte(key))
	if terr != nil || len(types) == 0 {
		return err
	}
	switch types[0] {
	case crdt.TypeCounter:
		return errorf(http.StatusNotFound, apitype.CodeNotFound, "key %q is a counter, not a value: read it with `grapevine incr %s 0` or GET /v1/counter/{key}", key, key)
	case crdt.TypeSet:
		return errorf(http.StatusNotFound, apitype.CodeNotFound, "key %q is a set, not a value: read it with `grapevine set members %s` or GET /v1/set/{key}", key, key)
	}
	return err
}

// resetCounter answers DELETE /v1/counter/{key}.
func (s *Server) resetCounter(w http.ResponseWriter, r *http.Request, key string) error {
	if err := s.node.ResetCounter(s.servedBy(w, r), r.URL.Query().Get("ns"), []byte(key)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// typedEntry fills the type-specific fields of a listing entry.
func typedEntry(ent *apitype.Entry, typ crdt.Type, counter int64, members [][]byte) {
	ent.Type = typ.String()
	switch typ {
	case crdt.TypeCounter:
		ent.Counter = &counter
	case crdt.TypeSet:
		ent.Members = members
	}
}
