package passes

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/deepc-dev/deepc/ir"
)

// Timing measures each pass's wall time and prints a table with the total
// to ctx.Out when the run ends.
type Timing struct {
	Rows []TimingRow
}

// TimingRow is one pass step's time.
type TimingRow struct {
	Step    int
	Pass    string
	Elapsed time.Duration
}

// NewTiming returns an empty timing instrument.
func NewTiming() *Timing { return &Timing{} }

func (t *Timing) BeforePipeline(*Context, *ir.Module) error {
	t.Rows = nil
	return nil
}

func (t *Timing) BeforePass(*Context, Pass, *ir.Module) error { return nil }

func (t *Timing) AfterPass(ctx *Context, p Pass, _ *ir.Module, r Result) error {
	t.Rows = append(t.Rows, TimingRow{ctx.step, p.Name(), r.Elapsed})
	return nil
}

func (t *Timing) AfterPipeline(ctx *Context, _ *ir.Module, _ error) error {
	return t.WriteTable(ctx.Writer())
}

// Total is the sum of the passes' times (the instruments' own time is not
// counted).
func (t *Timing) Total() time.Duration {
	var d time.Duration
	for _, r := range t.Rows {
		d += r.Elapsed
	}
	return d
}

// WriteTable prints one row per pass step and the total, with each step's
// share of the total.
func (t *Timing) WriteTable(w io.Writer) error {
	total := t.Total()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tpass\twall time\tshare\t")
	for _, r := range t.Rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t\n", r.Step, r.Pass, r.Elapsed, share(r.Elapsed, total))
	}
	fmt.Fprintf(tw, "\ttotal\t%s\t%s\t\n", total, share(total, total))
	return tw.Flush()
}

func share(d, total time.Duration) string {
	if total <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(d)/float64(total))
}
