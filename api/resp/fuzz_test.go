package resp

import (
	"bytes"
	"strings"
	"testing"
)

// splitArgs splits a fuzz input into arguments at NUL bytes.
func splitArgs(s []byte) [][]byte {
	if len(s) == 0 {
		return nil
	}
	return bytes.Split(s, []byte{0})
}

// FuzzParseSetOptions: SET's options never panic, never give both NX and
// XX nor a negative TTL, and an error is a whole RESP error line.
func FuzzParseSetOptions(f *testing.F) {
	for _, seed := range []string{"", "NX", "xx", "EX\x0010", "PX\x00100\x00NX", "NX\x00XX", "EX\x000", "EX", "KEEPTTL", "EX\x009223372036854775807", "PX\x00-1", "GET"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		o, err := parseSetOptions(splitArgs(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ERR ") || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error %q is not a RESP error line", err)
			}
			return
		}
		if (o.nx && o.xx) || o.ttl < 0 {
			t.Fatalf("options %+v from %q", o, in)
		}
	})
}

// FuzzParseScan: SCAN's arguments never panic, COUNT stays in bounds, and
// a MATCH taken is a literal (no glob character left in the prefix).
func FuzzParseScan(f *testing.F) {
	for _, seed := range []string{"0", "x", "0\x00MATCH\x00p*", "0\x00MATCH\x00[p]*", "12\x00COUNT\x005", "0\x00COUNT\x00-1", "0\x00MATCH", "0\x00TYPE\x00string", "18446744073709551615\x00COUNT\x0099999999"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		args := splitArgs(in)
		if len(args) == 0 {
			return // the arity check comes first
		}
		o, err := parseScan(args)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ERR ") || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error %q is not a RESP error line", err)
			}
			return
		}
		if o.count < 1 || o.count > maxScanCount || strings.ContainsAny(o.prefix, "*?[\\") {
			t.Fatalf("options %+v from %q", o, in)
		}
	})
}
