package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/node"
)

// maxTxnBody bounds the body of POST /v1/txn: node.MaxTxnBytes of keys and
// values, grown by a third by base64, plus the JSON of node.MaxTxnOps ops.
const maxTxnBody = node.MaxTxnBytes*4/3 + node.MaxTxnOps*256 + 1024

// txnKinds maps the JSON op names to the node's.
var txnKinds = map[string]node.TxnKind{"put": node.TxnPut, "del": node.TxnDelete, "incr": node.TxnIncr}

// txn answers POST /v1/txn: the ops of apitype.TxnRequest, all or nothing.
func (s *Server) txn(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return errMethod
	}
	var req apitype.TxnRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTxnBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errorf(http.StatusRequestEntityTooLarge, apitype.CodeTxnTooLarge, "the transaction's body exceeds %d bytes; the limits are %d ops and %d bytes of keys and values", maxTxnBody, node.MaxTxnOps, node.MaxTxnBytes)
		}
		return errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, `the body must be {"ops": [{"op": "put", "key": "a", "value": "<base64>"}, ...]}: %v`, err)
	}
	ops, err := txnOps(req.Ops)
	if err != nil {
		return err
	}
	res, err := s.node.Txn(s.servedBy(w, r), r.URL.Query().Get("ns"), ops)
	if err != nil {
		return err
	}
	out := apitype.TxnResponse{Results: make([]apitype.TxnResult, len(res))}
	for i, x := range res {
		out.Results[i] = apitype.TxnResult{Op: req.Ops[i].Op, Key: req.Ops[i].Key, Version: uint64(x.Version)}
		if ops[i].Kind == node.TxnIncr {
			out.Results[i].Counter = &x.Counter
		}
	}
	return writeJSON(w, out)
}

// txnOps converts and checks the request's ops (the node checks the rest).
func txnOps(in []apitype.TxnOp) ([]node.TxnOp, error) {
	ops := make([]node.TxnOp, len(in))
	for i, op := range in {
		bad := func(format string, args ...any) error {
			return errorf(http.StatusBadRequest, apitype.CodeInvalidArgument, "op %d: %s", i, fmt.Sprintf(format, args...))
		}
		kind, ok := txnKinds[op.Op]
		if !ok {
			return nil, bad("unknown op %q; use put, del or incr", op.Op)
		}
		if err := apitype.ValidKey(op.Key); err != nil {
			return nil, errorf(http.StatusBadRequest, apitype.CodeInvalidKey, "op %d: %v", i, err)
		}
		ops[i] = node.TxnOp{Kind: kind, Key: []byte(op.Key), Value: op.Value, By: op.By}
		ops[i].IfVersion, ops[i].IfAbsent = crdt.Timestamp(op.IfVersion), op.IfAbsent
		if op.TTL != "" {
			d, err := time.ParseDuration(op.TTL)
			if err != nil || d <= 0 {
				return nil, bad("ttl takes a positive duration such as 30s, got %q", op.TTL)
			}
			ops[i].TTL = d
		}
	}
	return ops, nil
}
