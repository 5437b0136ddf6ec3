package reconcile

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// defaultRapidSeed makes the property tests deterministic: the same cases
// on every run unless -rapid.seed (or RAPID_SEED) asks for others.
const defaultRapidSeed = "20261124"

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("rapid.seed"); f != nil && f.Value.String() == "0" && os.Getenv("RAPID_SEED") == "" {
		if err := f.Value.Set(defaultRapidSeed); err != nil {
			fmt.Fprintln(os.Stderr, "setting rapid.seed:", err)
			os.Exit(2)
		}
	}
	if f := flag.Lookup("rapid.seed"); f != nil && testing.Verbose() {
		fmt.Printf("rapid seed %s (override with -rapid.seed=N)\n", f.Value)
	}
	os.Exit(m.Run())
}
