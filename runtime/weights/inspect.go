package weights

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Report is the result of checking a checkpoint's headers against a module.
type Report struct {
	Module   string
	Path     string
	Shards   []string // shard file names
	Index    bool     // found through model.safetensors.index.json
	Tensors  int      // tensors in the checkpoint
	Bytes    int64    // tensor data in the checkpoint
	Params   int      // params in the module
	Bindings []Binding
	Problems []Problem // sorted by kind, then tensor
	Scanned  bool      // every value was read and checked (ScanValues)
}

// OK reports whether every param binds and nothing is left over.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Inspect checks every header of the checkpoint at dir against m without
// reading tensor data: missing tensors, unexpected ones, wrong shapes,
// dtypes, scale grids, missing scales. A checkpoint that opens but does not
// match returns the full report and a *MismatchError (unexpected tensors
// included); a malformed checkpoint returns a format error and a report
// that says only where it looked.
func Inspect(m *ir.Module, dir string, opts ...Option) (Report, error) {
	r := Report{Module: m.Name, Path: dir, Params: len(m.Params)}
	c, err := OpenCheckpoint(dir)
	if err != nil {
		return r, err
	}
	defer c.Close()
	return c.Inspect(m, opts...)
}

// Inspect is Inspect on an open checkpoint.
func (c *Checkpoint) Inspect(m *ir.Module, opts ...Option) (Report, error) {
	r := Report{Module: m.Name, Path: c.Path, Params: len(m.Params), Index: c.Index, Bytes: c.Bytes()}
	for _, f := range c.Shards {
		r.Shards = append(r.Shards, filepath.Base(f.Path))
		r.Tensors += len(f.tensors)
	}
	r.Bindings, r.Problems = c.Plan(m, opts...)
	if o := makeOptions(opts); o.scan {
		probs, err := c.ScanData(o.scanned)
		if err != nil {
			return r, err
		}
		r.Problems = append(r.Problems, probs...)
		r.Scanned = true
	}
	slices.SortStableFunc(r.Problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Tensor, b.Tensor))
	})
	if !r.OK() {
		return r, &MismatchError{Path: c.Path, Module: m.Name, Problems: r.Problems}
	}
	return r, nil
}

// Print writes the report for people: where, what binds as what, and every
// problem; verbose adds one line per param.
func (r *Report) Print(w io.Writer, verbose bool) error {
	var b strings.Builder
	layout := "single file"
	if r.Index {
		layout = "index"
	}
	fmt.Fprintf(&b, "checkpoint %s: %d tensors, %s in %d shard(s) (%s)\n", r.Path, r.Tensors, runtime.HumanBytes(r.Bytes), len(r.Shards), layout)
	fmt.Fprintf(&b, "module %s: %d params, %d bind\n", r.Module, r.Params, len(r.Bindings))
	kinds := map[string]int{}
	for _, bd := range r.Bindings {
		kinds[bindingKind(bd)]++
	}
	for _, k := range sortedKeys(kinds) {
		fmt.Fprintf(&b, "  %4d %s\n", kinds[k], k)
	}
	if verbose {
		for _, bd := range r.Bindings {
			n := ""
			if len(bd.Tensors) > 1 {
				n = fmt.Sprintf(" (%d experts)", len(bd.Tensors))
			}
			fmt.Fprintf(&b, "  %s %s: %s%s\n", bd.Param, fmtShape(bd.Shape), bindingKind(bd), n)
		}
	}
	if r.OK() {
		b.WriteString("OK: every param binds, no tensor is left over")
		if r.Scanned {
			b.WriteString(", every value is finite")
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "%d problem(s):\n", len(r.Problems))
		counts := map[ProblemKind]int{}
		for _, p := range r.Problems {
			counts[p.Kind]++
			fmt.Fprintf(&b, "  %s\n", p)
		}
		var parts []string
		for k := Missing; k <= NotFinite; k++ {
			if counts[k] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
			}
		}
		fmt.Fprintf(&b, "FAIL: %s\n", strings.Join(parts, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// bindingKind describes how a param binds, e.g. "F8_E4M3 → f8e4m3 (128x128 scales)".
func bindingKind(b Binding) string {
	s := fmt.Sprintf("%s → %s", b.Source, b.DType)
	if b.Quantized {
		s += fmt.Sprintf(" (%dx%d scales)", b.Block[0], b.Block[1])
	} else if src, _ := IRDType(b.Source); src != b.DType && src.Bytes() > b.DType.Bytes() {
		s += " (rounded)"
	}
	return s
}
