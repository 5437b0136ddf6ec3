package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is set by `make build`: -ldflags "-X main.version=$(VERSION)".
var version = ""

// versionString is the version this binary reports (`grapevine version`,
// the identify agent string, the startup log): the -ldflags value if set,
// else the module version the go command stamped (a tag, or a pseudo-version
// from the VCS revision), else the VCS revision itself, else "unknown" —
// never "(devel)".
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// userAgent is the identify agent string the daemon's libp2p host sends.
func userAgent() string { return "grapevine/" + versionString() }

// versionInfo is `grapevine version -o json`.
type versionInfo struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	Agent   string `json:"agent"`
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Description: "Prints the version of this binary, which peers also see in its libp2p identify agent string\n" +
			"(grapevine/VERSION). Example: grapevine version -o json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "output `FORMAT`: text or json"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return &exitError{code: 2, msg: "usage: grapevine version [-o json]"}
			}
			info := versionInfo{Version: versionString(), Go: runtime.Version(), Agent: userAgent()}
			switch c.String("output") {
			case "json":
				return printJSON(c.App.Writer, info)
			case "text":
				_, err := fmt.Fprintf(c.App.Writer, "grapevine %s\n", info.Version)
				return err
			}
			return &exitError{code: 2, msg: fmt.Sprintf("--output must be text or json, not %q", c.String("output"))}
		},
	}
}
