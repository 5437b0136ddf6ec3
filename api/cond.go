package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/node"
)

// Conditional writes and TTL on PUT and DELETE /v1/kv/{key}:
//
//	If-Match: "<version>"   only if the key is at this version (an ETag)
//	If-None-Match: *        only if the key is absent (never written, deleted or expired)
//	?cas=<version>          Consul's spelling of If-Match; cas=0 is If-None-Match: *
//	?ttl=<duration>         PUT only: the value expires that long after the write (e.g. 30s)
//
// At most one condition per request. A condition that does not hold
// answers 412 precondition_failed with the key's current version in the
// body and the ETag header; nothing changes.

// setVersion sends a value's version as Grapevine-Version and as ETag.
func setVersion(w http.ResponseWriter, v crdt.Timestamp) {
	s := strconv.FormatUint(uint64(v), 10)
	w.Header().Set(apitype.VersionHeader, s)
	w.Header().Set("ETag", `"`+s+`"`)
}

// writeOptions reads a write's condition and (for a put) TTL.
func writeOptions(r *http.Request, put bool) (node.WriteOptions, error) {
	var o node.WriteOptions
	q := r.URL.Query()
	conds := 0
	if m := r.Header.Get("If-Match"); m != "" {
		conds++
		v, err := parseVersion(strings.Trim(strings.TrimPrefix(m, "W/"), `"`))
		if err != nil || v == 0 {
			return o, errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, `If-Match takes one version as an ETag, e.g. If-Match: "123", got %q`, m)
		}
		o.IfVersion = v
	}
	if m := r.Header.Get("If-None-Match"); m != "" {
		conds++
		if strings.TrimSpace(m) != "*" {
			return o, errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, `If-None-Match takes only *, for "only if absent", got %q`, m)
		}
		o.IfAbsent = true
	}
	if c, ok := q["cas"]; ok {
		conds++
		v, err := parseVersion(c[0])
		if err != nil {
			return o, errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "cas takes a version (0: only if absent), got %q", c[0])
		}
		o.IfVersion, o.IfAbsent = v, v == 0
	}
	if conds > 1 {
		return o, errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "give one condition: If-Match, If-None-Match or cas")
	}
	if t := q.Get("ttl"); t != "" {
		if !put {
			return o, errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "ttl applies to PUT only")
		}
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return o, errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "ttl takes a positive duration such as 30s or 5m, got %q", t)
		}
		o.TTL = d
	}
	return o, nil
}

func parseVersion(s string) (crdt.Timestamp, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	return crdt.Timestamp(v), err
}
