package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "Prints a script that completes grapevine's commands, subcommands and flags.\n\n" +
			"Examples:\n  source <(grapevine completion bash)              # in ~/.bashrc\n" +
			"  grapevine completion zsh > \"${fpath[1]}/_grapevine\"\n" +
			"  grapevine completion fish > ~/.config/fish/completions/grapevine.fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return &exitError{code: codeUsage, msg: "usage: grapevine completion bash|zsh|fish"}
			}
			tree := completionTree(c.App.Commands)
			switch c.Args().First() {
			case "bash":
				return writeBash(c.App.Writer, tree, false)
			case "zsh":
				return writeBash(c.App.Writer, tree, true)
			case "fish":
				return writeFish(c.App.Writer, c.App.Commands, nil)
			}
			return &exitError{code: codeUsage, msg: fmt.Sprintf("no completion for shell %q: bash, zsh or fish", c.Args().First())}
		},
	}
}

// completionNode is one command path and the words that may follow it.
type completionNode struct {
	path  string // "" for the top, "set add" for a subcommand
	words []string
}

// completionTree lists, for every command path, its subcommands and
// flags, from the top down.
func completionTree(cmds []*cli.Command) []completionNode {
	var out []completionNode
	var walk func(path string, cmds []*cli.Command, flags []cli.Flag)
	walk = func(path string, cmds []*cli.Command, flags []cli.Flag) {
		var words []string
		for _, c := range cmds {
			if !c.Hidden && (path == "" || c.Name != "help") {
				words = append(words, c.Name)
			}
		}
		for _, f := range flags {
			if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
				continue
			}
			for _, n := range f.Names() {
				if len(n) == 1 {
					words = append(words, "-"+n)
				} else {
					words = append(words, "--"+n)
				}
			}
		}
		out = append(out, completionNode{path: path, words: append(words, "--help")})
		for _, c := range cmds {
			if !c.Hidden && c.Name != "help" {
				walk(strings.TrimSpace(path+" "+c.Name), c.Subcommands, c.Flags)
			}
		}
	}
	walk("", cmds, nil)
	return out
}

// writeBash writes the bash script (zsh: the same through bashcompinit).
func writeBash(w io.Writer, tree []completionNode, zsh bool) error {
	var b strings.Builder
	if zsh {
		b.WriteString("#compdef grapevine\n# grapevine completion for zsh\nautoload -U +X bashcompinit && bashcompinit\n")
	} else {
		b.WriteString("# grapevine completion for bash\n")
	}
	b.WriteString("_grapevine() {\n  local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=\"\" w i words\n")
	b.WriteString("  for ((i = 1; i < COMP_CWORD; i++)); do\n    w=\"${COMP_WORDS[i]}\"\n    [[ $w == -* ]] && continue\n")
	b.WriteString("    case \"${path:+$path }$w\" in\n")
	var paths []string
	for _, n := range tree[1:] {
		paths = append(paths, fmt.Sprintf("%q", n.path))
	}
	fmt.Fprintf(&b, "      %s) path=\"${path:+$path }$w\" ;;\n    esac\n  done\n", strings.Join(paths, "|"))
	b.WriteString("  case \"$path\" in\n")
	for _, n := range tree {
		fmt.Fprintf(&b, "    %q) words=%q ;;\n", n.path, strings.Join(n.words, " "))
	}
	b.WriteString("  esac\n  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\ncomplete -o default -F _grapevine grapevine\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFish writes fish `complete` lines for cmds under the command path
// parents.
func writeFish(w io.Writer, cmds []*cli.Command, parents []string) error {
	cond := "__fish_use_subcommand"
	if len(parents) > 0 {
		var cs []string
		for _, p := range parents {
			cs = append(cs, "__fish_seen_subcommand_from "+p)
		}
		cond = strings.Join(cs, "; and ")
	}
	if len(parents) == 0 {
		if _, err := io.WriteString(w, "# grapevine completion for fish\ncomplete -c grapevine -f\n"); err != nil {
			return err
		}
	}
	for _, c := range cmds {
		if c.Hidden || c.Name == "help" {
			continue
		}
		names := append(slices.Clone(parents), c.Name)
		if len(parents) > 0 {
			if _, err := fmt.Fprintf(w, "complete -c grapevine -n %q -a %s -d %q\n", cond+"; and not __fish_seen_subcommand_from "+subNames(cmds), c.Name, c.Usage); err != nil {
				return err
			}
		} else if _, err := fmt.Fprintf(w, "complete -c grapevine -n %q -a %s -d %q\n", cond, c.Name, c.Usage); err != nil {
			return err
		}
		seen := make([]string, 0, len(names))
		for _, n := range names {
			seen = append(seen, "__fish_seen_subcommand_from "+n)
		}
		for _, f := range c.Flags {
			if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
				continue
			}
			line := fmt.Sprintf("complete -c grapevine -n %q", strings.Join(seen, "; and "))
			for _, n := range f.Names() {
				if len(n) == 1 {
					line += " -s " + n
				} else {
					line += " -l " + n
				}
			}
			if flagTakesValue(f) {
				line += " -r"
			}
			if _, err := fmt.Fprintln(w, line); err != nil {
				return err
			}
		}
		if err := writeFish(w, c.Subcommands, names); err != nil {
			return err
		}
	}
	return nil
}

// subNames is the space-separated names of cmds.
func subNames(cmds []*cli.Command) string {
	var ns []string
	for _, c := range cmds {
		ns = append(ns, c.Name)
	}
	return strings.Join(ns, " ")
}
