package reconcile

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if err := testutil.FixRapidSeed("20261124"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}
