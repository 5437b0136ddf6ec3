package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/grapevine-kv/grapevine/internal/wire"
)

// exportCommand is `grapevine export`: the peer's states to standard
// output in the export format.
func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write the peer's states (every type) to standard output, in grapevine's export format",
		ArgsUsage: " ",
		Description: "Streams the CRDT states of the namespaces in --ns (comma-separated; default every\n" +
			"namespace) from one consistent snapshot of the peer. --tombstones adds deleted and expired\n" +
			"values, reset counters and empty sets, so that an import also carries deletes. The stream is\n" +
			"checked as it is written (count and checksum); a progress line goes to a terminal's stderr.\n\n" +
			"Example: grapevine export --ns default,app --tombstones > peer.export",
		Flags: append(clientFlags(withNS),
			&cli.StringFlag{Name: "prefix", Usage: "only keys starting with `P`"},
			&cli.BoolFlag{Name: "tombstones", Usage: "include deleted and expired values, reset counters and empty sets"},
		),
		Action: clientAction("", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			ex, err := cl.Export(ctx, client.ExportOptions{Prefix: c.String("prefix"), Tombstones: c.Bool("tombstones")})
			if err != nil {
				return err
			}
			defer ex.Close()
			// Read the stream as an export while copying it out: the
			// reader checks every record and the end record.
			er, err := wire.NewExportReader(io.TeeReader(ex, c.App.Writer))
			if err != nil {
				return err
			}
			bar := newProgress(c.App.ErrWriter, "exported", ex.States)
			defer bar.done()
			for n := int64(1); ; n++ {
				_, err := er.Next()
				if err == io.EOF {
					bar.finish(n - 1)
					return nil
				}
				if err != nil {
					return fmt.Errorf("the export from the daemon is incomplete after %d states: %w", n-1, err)
				}
				bar.show(n)
			}
		}),
	}
}

// importCommand is `grapevine import FILE`.
func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "merge an export into the peer, as states from another peer",
		ArgsUsage: "FILE",
		Description: "Sends FILE (- for standard input) to the daemon, which merges every state by the usual\n" +
			"rules: importing twice, or into a peer with newer data, changes nothing it should not. In a\n" +
			"namespace with a writer list, states not signed by a writer are refused, as from a peer;\n" +
			"the command then exits 1 after its summary.\n\n" +
			"Example: grapevine import peer.export",
		Flags: clientFlags(withOutput),
		Action: clientAction("FILE", 1, 1, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			var in io.Reader = c.App.Reader
			total := int64(-1)
			if name := c.Args().First(); name != "-" {
				f, err := os.Open(name)
				if err != nil {
					return &exitError{code: 1, msg: err.Error()}
				}
				defer f.Close()
				if st, err := f.Stat(); err == nil {
					total = st.Size()
				}
				in = f
			}
			bar := newProgress(c.App.ErrWriter, "sent", total)
			pr := &progressReader{r: in, bar: bar}
			res, err := cl.Import(ctx, pr)
			bar.done()
			if err != nil {
				return err
			}
			if asJSON, _ := jsonOutput(c); asJSON {
				if err := printJSON(c.App.Writer, res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(c.App.Writer, "imported %d states into %s: %d changed this peer, %d it had already (or newer), %d refused\n",
					res.States, strings.Join(res.Namespaces, ", "), res.Changed, res.States-res.Changed-res.Refused, res.Refused)
			}
			if res.Refused > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d states were refused, as from any peer: not signed by a writer of a signed namespace, stamped too far in the future, or too large (see grapevine_refused_states_total)", res.Refused)}
			}
			return nil
		}),
	}
}

// progress draws "exported 1234/5000 states (24%)" on a terminal.
type progress struct {
	w     io.Writer
	verb  string
	total int64
	on    bool
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, verb string, total int64) *progress {
	return &progress{w: w, verb: verb, total: total, on: isTerminal(w)}
}

func (p *progress) show(n int64) {
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last, p.drawn = time.Now(), true
	unit := "states"
	if p.verb == "sent" {
		unit = "bytes"
	}
	if p.total > 0 {
		fmt.Fprintf(p.w, "\r\033[K%s %s", p.verb, strings.Replace(progressBar(uint64(n), uint64(p.total), 30), "keys", unit, 1))
	} else {
		fmt.Fprintf(p.w, "\r\033[K%s %d %s", p.verb, n, unit)
	}
}

func (p *progress) finish(n int64) {
	p.done()
	if p.on {
		fmt.Fprintf(p.w, "exported %d states\n", n)
	}
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// progressReader shows the bytes read so far.
type progressReader struct {
	r   io.Reader
	bar *progress
	n   int64
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.n += int64(n)
	r.bar.show(r.n)
	return n, err
}
