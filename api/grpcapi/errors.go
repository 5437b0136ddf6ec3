package grpcapi

import (
	"context"
	"errors"
	"strconv"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/node"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the domain of the google.rpc.ErrorInfo detail of every
// error the server answers; its reason is the HTTP API's error code
// (apitype.Code*: "not_found", "precondition_failed", "compacted", ...).
const ErrorDomain = "grapevine"

// errorTable maps every node sentinel (node.Errors) to a gRPC status code;
// a test checks that none is missing. It is walked in order with
// errors.Is, so ErrClosed comes first: a call cut short by a shutdown is
// Unavailable whatever else its error wraps.
//
// Values and transactions too large are ResourceExhausted, the code gRPC
// itself answers for a message above the server's receive limit, so a
// value too large gets one code whichever check caught it.
var errorTable = []struct {
	sentinel error
	code     codes.Code
}{
	{node.ErrClosed, codes.Unavailable},
	{node.ErrNotFound, codes.NotFound},
	{node.ErrForbidden, codes.PermissionDenied},
	{node.ErrCompacted, codes.OutOfRange},
	{node.ErrInvalidKey, codes.InvalidArgument},
	{node.ErrInvalidNamespace, codes.InvalidArgument},
	{node.ErrInvalidArgument, codes.InvalidArgument},
	{node.ErrValueTooLarge, codes.ResourceExhausted},
	{node.ErrPreconditionFailed, codes.FailedPrecondition},
	{node.ErrTxnTooLarge, codes.ResourceExhausted},
	{node.ErrOverflow, codes.OutOfRange},
	{node.ErrNoPeers, codes.Unavailable},
	{node.ErrNoHolder, codes.Unavailable},
	{node.ErrCanceled, codes.Canceled}, // DeadlineExceeded when the deadline passed
	{node.ErrSync, codes.Unavailable},
	{node.ErrNetwork, codes.Unavailable},
	{node.ErrStorage, codes.Internal},
	{node.ErrInvalidConfig, codes.Internal},
	{node.ErrAlreadyStarted, codes.Internal},
}

// statusError returns the gRPC status error of err, a node error: the
// table's code, the HTTP API's message, and an ErrorInfo with the HTTP
// API's code as reason (and "version", the current version of a key
// whose condition failed). meta adds metadata to the ErrorInfo. An error
// that is no node sentinel is Internal.
func statusError(err error, meta map[string]string) error {
	if _, ok := status.FromError(err); ok {
		return err // already a status (the server's own refusals)
	}
	code := codes.Internal
	for _, m := range errorTable {
		if errors.Is(err, m.sentinel) {
			code = m.code
			break
		}
	}
	if code == codes.Canceled && errors.Is(err, context.DeadlineExceeded) {
		code = codes.DeadlineExceeded
	}
	e := api.ErrorOf(err)
	if e.Version != 0 {
		if meta == nil {
			meta = map[string]string{}
		}
		meta["version"] = strconv.FormatUint(e.Version, 10)
	}
	return withInfo(status.New(code, e.Message), e.Code, meta)
}

// withInfo returns st as an error with an ErrorInfo detail of reason.
func withInfo(st *status.Status, reason string, meta map[string]string) error {
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: meta}); err == nil {
		st = d
	}
	return st.Err()
}

// errorf returns a status error of code with an ErrorInfo of reason.
func errorf(code codes.Code, reason, msg string) error {
	return withInfo(status.New(code, msg), reason, nil)
}
