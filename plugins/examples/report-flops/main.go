// Command report-flops is an example deepc plugin: an analysis pass that
// prints FLOPs and bytes moved per op kind for each function, with the
// symbolic dims bound by the option tokens (T, and every other symbol, to
// that many), and leaves the module as it is.
package main

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

func main() { sdk.Serve(Plugin) }

// Plugin is what the binary serves (and its tests run in process).
var Plugin = sdk.Plugin{Name: "report-flops", Version: "1.0.0", Passes: []sdk.Pass{Pass}}

// Pass is the plugin's one pass.
var Pass = sdk.Pass{
	Name:        "report-flops",
	Description: "print FLOPs and bytes per op kind for each function (analysis; changes nothing)",
	Anchor:      "after:dce",
	Options:     []sdk.Option{{Name: "tokens", Type: sdk.Int, Description: "the size every symbolic dim (T, C, ...) is counted at", Default: "4096"}},
	Run:         report,
}

type row struct {
	op           string
	count        int
	flops, bytes int64
}

func report(m *ir.Module, opts sdk.Options) error {
	n, err := opts.Int("tokens")
	if err != nil {
		return err
	}
	for _, f := range m.Funcs {
		env := map[string]int64{}
		for _, a := range f.Args {
			for _, s := range a.Type.Shape.Syms() {
				env[s] = n
			}
		}
		rows := map[string]*row{}
		var total row
		for _, op := range f.Body {
			c := op.Cost(env)
			r := rows[op.Name]
			if r == nil {
				r = &row{op: op.Name}
				rows[op.Name] = r
			}
			r.count++
			r.flops += c.FLOPs
			r.bytes += c.Bytes
			total.count++
			total.flops += c.FLOPs
			total.bytes += c.Bytes
		}
		var list []*row
		for _, r := range rows {
			list = append(list, r)
		}
		// Most FLOPs first, then most bytes, then by name.
		slices.SortFunc(list, func(a, b *row) int {
			return cmp.Or(cmp.Compare(b.flops, a.flops), cmp.Compare(b.bytes, a.bytes), cmp.Compare(a.op, b.op))
		})
		opts.Printf("func @%s (symbols = %d)\n", f.Name, n)
		w := tabwriter.NewWriter(printer{opts}, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(w, "op\tcount\tFLOPs\tbytes\t\n")
		total.op = "total"
		for _, r := range append(list, &total) {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t\n", r.op, r.count, grouped(r.flops), grouped(r.bytes))
		}
		w.Flush()
	}
	return nil
}

// grouped prints a non-negative count with thousands separators.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// printer adapts Options.Printf to an io.Writer.
type printer struct{ o sdk.Options }

func (p printer) Write(b []byte) (int, error) {
	p.o.Printf("%s", b)
	return len(b), nil
}
