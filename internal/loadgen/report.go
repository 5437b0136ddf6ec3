package loadgen

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// Row is one line of a report: a count, a rate and latency percentiles.
// Fields that do not apply are zero and print as "-".
type Row struct {
	Name       string  `json:"name"`
	Ops        uint64  `json:"ops"`
	Errors     uint64  `json:"errors,omitempty"`
	Throughput float64 `json:"ops_per_sec,omitempty"`
	P50        Micros  `json:"p50_us,omitempty"`
	P90        Micros  `json:"p90_us,omitempty"`
	P99        Micros  `json:"p99_us,omitempty"`
	Max        Micros  `json:"max_us,omitempty"`
}

// Micros is a duration that encodes in JSON as microseconds.
type Micros time.Duration

// MarshalJSON encodes the duration in microseconds, with a fraction.
func (m Micros) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%.1f", float64(m)/float64(time.Microsecond)), nil
}

// HistRow returns a row of h's percentiles, with ops/s over elapsed if
// elapsed > 0.
func HistRow(name string, h *Histogram, elapsed time.Duration) Row {
	r := Row{Name: name, Ops: h.Count(), P50: Micros(h.Quantile(0.5)), P90: Micros(h.Quantile(0.9)),
		P99: Micros(h.Quantile(0.99)), Max: Micros(h.Max())}
	if elapsed > 0 {
		r.Throughput = float64(h.Count()) / elapsed.Seconds()
	}
	return r
}

// Row returns the result as a report row named name.
func (r *Result) Row(name string) Row {
	row := HistRow(name, &r.Latency, r.Elapsed)
	row.Errors = r.Errors
	return row
}

// Ratio is one comparison of a report: Of divided by To.
type Ratio struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Report is what `grapevine bench` prints: rows, then ratios.
type Report struct {
	Rows   []Row   `json:"rows"`
	Ratios []Ratio `json:"ratios,omitempty"`
	// Notes are lines printed after the table (missing keys, errors).
	Notes []string `json:"notes,omitempty"`
	// Memory is the daemon's memory over the run, when the target is a
	// daemon whose /metrics could be read.
	Memory *MemoryReport `json:"daemon_memory,omitempty"`
}

// AddRatio appends the ratio a/b named name; nothing if b is 0.
func (rp *Report) AddRatio(name string, a, b float64) {
	if b != 0 {
		rp.Ratios = append(rp.Ratios, Ratio{Name: name, Value: a / b})
	}
}

// WriteText writes the report as an aligned table, then one line per
// ratio and note.
func (rp *Report) WriteText(w io.Writer) error {
	// Names align left, figures right: tabwriter aligns every column one
	// way, so the names are padded here.
	width := 0
	for _, r := range rp.Rows {
		width = max(width, utf8.RuneCountInString(r.Name))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", width-utf8.RuneCountInString(s)) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tops\terrors\tops/s\tp50\tp90\tp99\tmax\t\n", pad(""))
	for _, r := range rp.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", pad(r.Name), r.Ops, r.Errors, rate(r.Throughput),
			dur(r.P50), dur(r.P90), dur(r.P99), dur(r.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rp.Ratios {
		if _, err := fmt.Fprintf(w, "%s: %.2f×\n", r.Name, r.Value); err != nil {
			return err
		}
	}
	if rp.Memory != nil {
		if _, err := fmt.Fprintf(w, "daemon memory: %s\n", rp.Memory); err != nil {
			return err
		}
	}
	for _, n := range rp.Notes {
		if _, err := fmt.Fprintln(w, n); err != nil {
			return err
		}
	}
	return nil
}

// rate formats ops/s as a whole number (scripts read it), "-" if 0.
func rate(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

// dur formats a latency with 3 significant digits, "-" if 0.
func dur(m Micros) string {
	d := time.Duration(m)
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
