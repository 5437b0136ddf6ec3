package main

import (
	"fmt"
	"io"
	"strings"
	"time"

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

// writeRecovery writes status's line about a damaged database the peer
// replaced at start, if it did.
func writeRecovery(w io.Writer, st apitype.Status) {
	if r := st.Recovered; r != nil {
		fmt.Fprintf(w, "recovered: from a damaged database at %s (%s); the damaged directory is kept in %s\n",
			r.At.UTC().Format(time.RFC3339), r.Damage, r.Quarantine)
	}
}
