package storage

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// defaultRapidSeed makes the property tests deterministic: the same cases
// on every run unless -rapid.seed (or RAPID_SEED) asks for others.
const defaultRapidSeed = "20261124"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	flag.Parse()
	if f := flag.Lookup("rapid.seed"); f != nil && f.Value.String() == "0" {
		if err := f.Value.Set(defaultRapidSeed); err != nil {
			fmt.Fprintln(os.Stderr, "setting rapid.seed:", err)
			os.Exit(2)
		}
	}
	// The race detector slows the store's property tests about tenfold;
	// run fewer cases unless asked for a number.
	if f := flag.Lookup("rapid.checks"); f != nil && raceEnabled && f.Value.String() == "100" {
		if err := f.Value.Set("25"); err != nil {
			fmt.Fprintln(os.Stderr, "setting rapid.checks:", err)
			os.Exit(2)
		}
	}
	if f := flag.Lookup("rapid.seed"); f != nil && testing.Verbose() {
		fmt.Printf("rapid seed %s (override with -rapid.seed=N)\n", f.Value)
	}
	goleak.VerifyTestMain(m)
}
