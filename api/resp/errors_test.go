package resp

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/node"
)

// Every node sentinel has its own entry in the table, and its answer is
// one line that starts with the entry's code.
func TestErrorTableCoversNodeErrors(t *testing.T) {
	for _, sentinel := range node.Errors {
		found := false
		for _, m := range errorTable {
			if m.sentinel == sentinel {
				found = true
			}
		}
		if !found {
			t.Errorf("%v has no entry in errorTable", sentinel)
		}
		got := errorReply(fmt.Errorf("%w: some\r\ndetail", sentinel))
		if strings.ContainsAny(got, "\r\n") || !strings.HasPrefix(got, "ERR ") && !strings.HasPrefix(got, "NOPERM ") {
			t.Errorf("%v is answered %q", sentinel, got)
		}
	}
	if got := errorReply(errors.New("surprise")); got != "ERR internal error: surprise" {
		t.Errorf("an unknown error is answered %q", got)
	}
	if got := errorReply(fmt.Errorf("%w: %w", node.ErrClosed, node.ErrStorage)); !strings.Contains(got, "shutting down") {
		t.Errorf("closed beats the rest: %q", got)
	}
}
