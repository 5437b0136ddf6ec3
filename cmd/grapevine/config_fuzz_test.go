package main

import (
	"os"
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

// FuzzDecodeConfig: any file either decodes into values of daemon flags a
// file may set, or is refused with an error; nothing panics.
func FuzzDecodeConfig(f *testing.F) {
	if example, err := os.ReadFile("../../grapevine.example.toml"); err == nil {
		f.Add(example)
	}
	for _, s := range []string{
		"", "lisen = []", `mdns = "yes"`, "max-value-size = 1.5", "[writers]\npay = [\"a\", 3]",
		"writers = \"pay=a,b\"", "listen = [\"/ip4/127.0.0.1/tcp/0\"]\nlog-level = \"debug\"", "[listen]\nx = 1",
	} {
		f.Add([]byte(s))
	}
	flags := daemonFlags()
	f.Fuzz(func(t *testing.T, text []byte) {
		keys, vals, err := decodeConfig(text, flags)
		if err != nil {
			return
		}
		for _, k := range keys {
			i := slices.IndexFunc(flags, func(fl cli.Flag) bool { return fl.Names()[0] == k })
			if i < 0 || !configurable(flags[i]) {
				t.Fatalf("decoded key %q is not a configurable daemon flag", k)
			}
			if _, ok := vals[k]; !ok {
				t.Fatalf("key %q without values", k)
			}
		}
	})
}
