package storage

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	if dir := os.Getenv(crashVerifyEnv); dir != "" {
		os.Exit(crashVerify(dir))
	}
	if dir := os.Getenv(openDamagedEnv); dir != "" {
		os.Exit(openChild(dir))
	}
	if dir := os.Getenv(flushChildEnv); dir != "" {
		os.Exit(flushChild(dir))
	}
	flag.Parse()
	if err := testutil.FixRapidSeed("20261124"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// The race detector slows the store's property tests about tenfold;
	// run fewer cases unless asked for a number.
	if f := flag.Lookup("rapid.checks"); f != nil && raceEnabled && f.Value.String() == "100" {
		if err := f.Value.Set("25"); err != nil {
			fmt.Fprintln(os.Stderr, "setting rapid.checks:", err)
			os.Exit(2)
		}
	}
	goleak.VerifyTestMain(m)
}
