package main

import (
	"bytes"
	"testing"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// TestWriteReplication: status says what the peer replicates, holds and
// forwards.
func TestWriteReplication(t *testing.T) {
	for _, tc := range []struct {
		st   apitype.Status
		want string
	}{
		{apitype.Status{Replicates: []string{"default", "tenant-*"}, Holds: []string{"default", "tenant-1"}, Forwards: []string{"b"}},
			"replicates: default, tenant-*\nholds:      default, tenant-1\nforwards:   b\n"},
		{apitype.Status{Replicates: []string{"*"}},
			"replicates: * (every namespace)\nholds:      none yet\nforwards:   none\n"},
	} {
		var b bytes.Buffer
		writeReplication(&b, tc.st)
		if b.String() != tc.want {
			t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
		}
	}
}
