package loadgen_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if err := testutil.FixRapidSeed("14"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	goleak.VerifyTestMain(m, testutil.LeakOptions()...)
}
