package testutil

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// FixRapidSeed makes a package's rapid property tests deterministic: unless
// the run names a seed (-rapid.seed=N or the RAPID_SEED variable), it sets
// seed, so every run checks the same cases. With -v it prints the seed in
// force. Call it from TestMain after flag.Parse.
func FixRapidSeed(seed string) error {
	f := flag.Lookup("rapid.seed")
	if f == nil {
		return nil // the test binary does not use rapid
	}
	if f.Value.String() == "0" && os.Getenv("RAPID_SEED") == "" {
		if err := f.Value.Set(seed); err != nil {
			return fmt.Errorf("setting rapid.seed: %w", err)
		}
	}
	if testing.Verbose() {
		fmt.Printf("rapid seed %s (override with -rapid.seed=N or RAPID_SEED=N)\n", f.Value)
	}
	return nil
}
