package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// writeReplication writes status's partial replication lines: the
// patterns the peer replicates, the namespaces it holds, and those it
// forwards to their holders.
func writeReplication(w io.Writer, st apitype.Status) {
	list := func(names []string, none string) string {
		if len(names) == 0 {
			return none
		}
		return strings.Join(names, ", ")
	}
	replicates := list(st.Replicates, "*")
	if replicates == "*" {
		replicates = "* (every namespace)"
	}
	fmt.Fprintf(w, "replicates: %s\nholds:      %s\nforwards:   %s\n", replicates,
		list(st.Holds, "none yet"), list(st.Forwards, "none"))
}
