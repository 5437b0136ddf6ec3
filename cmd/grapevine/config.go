package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"
)

// configPrecedence is how the daemon's settings combine, for --help.
const configPrecedence = "Every flag can also be set in the environment (the GRAPEVINE_* variable shown with it) or in a\n" +
	"TOML file given with --config, under the flag's name (listen = [\"/ip4/0.0.0.0/tcp/4101\"], mdns = false,\n" +
	"[writers] payments = [\"ID1\", \"ID2\"]; see grapevine.example.toml). A flag beats the environment, which\n" +
	"beats the file, which beats the default. `grapevine config show` prints the result."

// configFlag names the daemon's config file.
var configFlag = &cli.StringFlag{Name: "config", EnvVars: []string{"GRAPEVINE_CONFIG"}, Usage: "read settings from this TOML `FILE`, one key per daemon flag (flags and GRAPEVINE_* variables win over it)"}

// configurable reports whether a daemon flag may be set in the file: every
// flag but --config itself, --help and the hidden test-only ones.
func configurable(f cli.Flag) bool {
	if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
		return false
	}
	name := f.Names()[0]
	return name != configFlag.Name && name != cli.HelpFlag.Names()[0]
}

// applyConfigFile reads the --config file, if any, and sets each flag it
// names that neither the command line nor the environment set. A key that
// is not a daemon flag, or a value of the wrong kind, is an error naming
// the key. It returns the names of the flags the file set.
func applyConfigFile(c *cli.Context) (fromFile []string, err error) {
	path := c.String(configFlag.Name)
	if path == "" {
		return nil, nil
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("--config: %v", err)}
	}
	keys, vals, err := decodeConfig(text, c.Command.Flags)
	if err != nil {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("--config %s: %v", path, err)}
	}
	for _, key := range keys {
		if c.IsSet(key) {
			continue // the command line or the environment wins
		}
		for _, v := range vals[key] {
			if err := c.Set(key, v); err != nil {
				return nil, &exitError{code: 2, msg: fmt.Sprintf("--config %s: key %q: %v", path, key, err)}
			}
		}
		fromFile = append(fromFile, key)
	}
	return fromFile, nil
}

// decodeConfig parses a config file for flags: the keys it sets, sorted,
// and each key's flag values (one per repetition of a repeatable flag). A
// key that is not a configurable flag, or a value of the wrong kind, is an
// error naming the key.
func decodeConfig(text []byte, flags []cli.Flag) (keys []string, vals map[string][]string, err error) {
	var doc map[string]any
	if err := toml.Unmarshal(text, &doc); err != nil {
		return nil, nil, err
	}
	byName := map[string]cli.Flag{}
	var names []string
	for _, f := range flags {
		if configurable(f) {
			byName[f.Names()[0]] = f
			names = append(names, f.Names()[0])
		}
	}
	vals = make(map[string][]string, len(doc))
	for _, key := range sortedKeys(doc) {
		f, ok := byName[key]
		if !ok {
			return nil, nil, fmt.Errorf("unknown key %q; the keys are the daemon's flag names: %s", key, strings.Join(names, ", "))
		}
		v, err := configValues(f, doc[key])
		if err != nil {
			return nil, nil, fmt.Errorf("key %q: %w", key, err)
		}
		keys, vals[key] = append(keys, key), v
	}
	return keys, vals, nil
}

// configValues turns a TOML value into the flag values it stands for (one
// per repetition of a repeatable flag), checking its kind.
func configValues(f cli.Flag, v any) ([]string, error) {
	switch f.(type) {
	case *cli.BoolFlag:
		if b, ok := v.(bool); ok {
			return []string{strconv.FormatBool(b)}, nil
		}
		return nil, fmt.Errorf("want true or false, got %s", tomlKind(v))
	case *cli.IntFlag:
		if i, ok := v.(int64); ok {
			return []string{strconv.FormatInt(i, 10)}, nil
		}
		return nil, fmt.Errorf("want a whole number, got %s", tomlKind(v))
	case *cli.StringFlag, *cli.DurationFlag:
		if s, ok := v.(string); ok {
			return []string{s}, nil
		}
		return nil, fmt.Errorf("want a string, got %s", tomlKind(v))
	case *cli.StringSliceFlag:
		switch v := v.(type) {
		case string:
			return []string{v}, nil
		case []any:
			return stringList(v)
		case map[string]any: // [writers] ns = ["ID", ...]
			if f.Names()[0] != "writers" {
				break
			}
			var out []string
			for _, ns := range sortedKeys(v) {
				var ids []string
				switch l := v[ns].(type) {
				case string:
					ids = []string{l}
				case []any:
					var err error
					if ids, err = stringList(l); err != nil {
						return nil, fmt.Errorf("namespace %s: %w", ns, err)
					}
				default:
					return nil, fmt.Errorf("namespace %s: want a list of peer IDs, got %s", ns, tomlKind(v[ns]))
				}
				out = append(out, ns+"="+strings.Join(ids, ","))
			}
			return out, nil
		}
		return nil, fmt.Errorf("want a string or a list of strings, got %s", tomlKind(v))
	}
	return nil, errors.New("this flag cannot be set in a file")
}

func stringList(l []any) ([]string, error) {
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("want a list of strings, got an element that is %s", tomlKind(e))
		}
		out = append(out, s)
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// tomlKind names the kind of a decoded TOML value for an error.
func tomlKind(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case bool:
		return fmt.Sprintf("the boolean %t", v)
	case int64:
		return fmt.Sprintf("the number %d", v)
	case float64:
		return fmt.Sprintf("the number %g", v)
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "show the daemon's effective configuration", ArgsUsage: "show [daemon flags]",
		Description: "Example:\n  grapevine config show --config /etc/grapevine.toml",
		Subcommands: []*cli.Command{{
			Name:  "show",
			Usage: "print the settings `grapevine daemon` would run with, as TOML, each with where it came from",
			Description: "Takes the daemon's flags (including --config FILE) and prints every setting, with its source:\n" +
				"flag, env, file or default. The output is itself a valid --config file. Secrets (swarm key, API\n" +
				"tokens, encryption key) are file paths: only the paths are printed, never their contents.\n" +
				"Example: grapevine config show --config /etc/grapevine.toml\n\n" + configPrecedence,
			Flags: daemonFlags(),
			Action: func(c *cli.Context) error {
				if c.NArg() > 0 {
					return &exitError{code: 2, msg: "usage: grapevine config show [daemon flags]"}
				}
				explicit := c.LocalFlagNames() // the command line and the environment, before the file
				fromFile, err := applyConfigFile(c)
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if p := c.String(configFlag.Name); p != "" {
					fmt.Fprintf(&buf, "# effective settings of `grapevine daemon` with --config %s\n", p)
				}
				for _, f := range c.Command.Flags {
					if !configurable(f) {
						continue
					}
					name := f.Names()[0]
					source := "default"
					switch {
					case slices.Contains(fromFile, name):
						source = "file"
					case slices.Contains(explicit, name) && envSet(f):
						source = "env"
					case slices.Contains(explicit, name):
						source = "flag"
					}
					line, err := toml.Marshal(map[string]any{name: flagValue(c, f)})
					if err != nil {
						return err
					}
					fmt.Fprintf(&buf, "%-60s # %s\n", strings.TrimSpace(string(line)), source)
				}
				_, err = c.App.Writer.Write(buf.Bytes())
				return err
			},
		}},
	}
}

// envSet reports whether one of f's environment variables is set. A flag
// given both on the command line and in the environment is reported as
// env: the command line's value is the one shown.
func envSet(f cli.Flag) bool {
	ef, ok := f.(interface{ GetEnvVars() []string })
	if !ok {
		return false
	}
	for _, e := range ef.GetEnvVars() {
		if _, ok := os.LookupEnv(e); ok {
			return true
		}
	}
	return false
}

// flagValue is f's value in c as the TOML the file takes.
func flagValue(c *cli.Context, f cli.Flag) any {
	name := f.Names()[0]
	switch f.(type) {
	case *cli.BoolFlag:
		return c.Bool(name)
	case *cli.IntFlag:
		return c.Int(name)
	case *cli.DurationFlag:
		return c.Duration(name).String()
	case *cli.StringSliceFlag:
		if v := c.StringSlice(name); v != nil {
			return v
		}
		return []string{}
	}
	return c.String(name)
}
