package codegen

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// Kernel is one emitted GPU kernel. Regions that emit the same code (the
// same layer's ops at another depth) share one kernel: its name ends in a
// hash of the code.
type Kernel struct {
	Name string `json:"name"`
	// Kind is the emitter that wrote it (pointwise, movement, rows, gemm, ...).
	Kind string `json:"kind"`
	// Ops are the IR ops fused into it, in program order (op names).
	Ops []string `json:"ops"`
	// MMA is the tensor-core operand type of a GEMM kernel (bf16, e4m3),
	// empty for kernels without tensor cores.
	MMA string `json:"mma,omitempty"`
	// LLVM is the LLVM IR text, PTX what llc made of it; Cubin is set when
	// ptxas ran, with the resources it reported.
	LLVM      string    `json:"-"`
	PTX       string    `json:"-"`
	Cubin     []byte    `json:"-"`
	Resources Resources `json:"resources"`
}

// Step is one launch of a kernel in a program: the tensors bound to its
// parameters (the region's inputs, the scales of quantized weights, then
// its outputs), the symbols passed after them as i64 values, and the grid.
type Step struct {
	Kernel  string   `json:"kernel"`
	Region  int      `json:"region"`
	Args    []Arg    `json:"args"`
	Symbols []string `json:"symbols,omitempty"`
	Launch  Launch   `json:"launch"`
	// InPlace pairs (output i, input j) whose buffers must be the same:
	// the kernel updates the input and writes only what changes.
	InPlace [][2]int `json:"in_place,omitempty"`
}

// Arg is one tensor parameter.
type Arg struct {
	Value  string   `json:"value"` // the IR value it binds (%N or an argument/param name)
	DType  string   `json:"dtype"`
	Shape  []string `json:"shape"`
	Output bool     `json:"output,omitempty"`
}

// Launch gives the grid from the bound symbols: each grid dimension is
// ceil(product(Elems) / Div); Threads per block, Shared bytes of dynamic
// shared memory.
type Launch struct {
	Grid    [3]GridDim `json:"grid"`
	Threads int        `json:"threads"`
	Shared  int        `json:"shared"`
}

// GridDim is ceil(product of Elems / Div); an empty Elems means 1.
type GridDim struct {
	Elems []string `json:"elems,omitempty"`
	Div   int64    `json:"div"`
}

// Eval computes the grid dimension for bound symbols.
func (g GridDim) Eval(env map[string]int64) (int64, error) {
	n := int64(1)
	for _, e := range g.Elems {
		d, err := parseDim(e)
		if err != nil {
			return 0, err
		}
		v, ok := d.Eval(env)
		if !ok {
			return 0, fmt.Errorf("symbol %s unbound", d.Sym)
		}
		n *= v
	}
	div := max(g.Div, 1)
	return (n + div - 1) / div, nil
}

// parseDim reads a dim as Dim.String prints it: 7168, T, 8*T+32512.
func parseDim(s string) (ir.Dim, error) {
	bad := fmt.Errorf("bad dim %q", s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ir.C(n), nil
	}
	var mul, off int64 = 1, 0
	rest := s
	if i := strings.IndexByte(rest, '*'); i >= 0 {
		m, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return ir.Dim{}, bad
		}
		mul, rest = m, rest[i+1:]
	}
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		o, err := strconv.ParseInt(rest[i+1:], 10, 64)
		if err != nil {
			return ir.Dim{}, bad
		}
		off, rest = o, rest[:i]
	}
	if rest == "" {
		return ir.Dim{}, bad
	}
	return ir.Affine(mul, ir.S(rest), off), nil
}

func gridOf(div int64, dims ...ir.Dim) GridDim {
	g := GridDim{Div: div}
	for _, d := range dims {
		g.Elems = append(g.Elems, d.String())
	}
	return g
}

func one() GridDim { return GridDim{Div: 1} }

func shapeStrings(s ir.Shape) []string {
	out := make([]string, len(s))
	for i, d := range s {
		out[i] = d.String()
	}
	return out
}

// Region is a group of IR ops that becomes one kernel.
type Region struct {
	ID      int
	Kind    string
	Ops     []*ir.Op
	Inputs  []*ir.Value // read from outside, in first-use order
	Outputs []*ir.Value // used outside or returned
}

// kernelBuilder extends builder with the region's tensor parameters.
type kernelBuilder struct {
	*builder
	r       *Region
	ptrs    map[*ir.Value]value.Value // tensor pointers by IR value
	scales  map[*ir.Value]value.Value // scale_inv pointers of block-quantized weights
	blocks  map[*ir.Value][]int64     // their scale blocks
	symbols map[string]value.Value    // symbol values (i64)
	mma     string                    // tensor-core operand type, if any
	syms    []string
}

// regionSymbols lists the symbols the region's tensors use, sorted.
func regionSymbols(r *Region) []string {
	set := map[string]bool{}
	add := func(v *ir.Value) {
		for _, d := range v.Type.Shape {
			if d.IsSym() {
				set[d.Sym] = true
			}
		}
	}
	for _, op := range r.Ops {
		for _, v := range op.Args {
			add(v)
		}
		for _, v := range op.Results {
			add(v)
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// newKernel starts a kernel for r with pointer parameters for its inputs
// and outputs and i64 parameters for its symbols.
// A block-quantized weight input brings its f32 scale_inv grid as one more
// pointer, placed after the inputs.
func newKernel(name string, r *Region, names func(*ir.Value) string, quantOf func(*ir.Value) []int64) (*kernelBuilder, *Step) {
	syms := regionSymbols(r)
	var ps []param
	kern := &Step{Region: r.ID, Symbols: syms}
	// Block-quantized tensors travel with their f32 scale grids: an input's
	// after the inputs, an output's after the outputs.
	var quantIn, quantOut []*ir.Value
	for _, v := range r.Inputs {
		if quantOf(v) != nil {
			quantIn = append(quantIn, v)
		}
	}
	for _, v := range r.Outputs {
		if quantOf(v) != nil {
			quantOut = append(quantOut, v)
		}
	}
	type slot struct {
		v     *ir.Value
		scale bool
		out   bool
	}
	var slots []slot
	for _, v := range r.Inputs {
		slots = append(slots, slot{v, false, false})
	}
	for _, v := range quantIn {
		slots = append(slots, slot{v, true, false})
	}
	for _, v := range r.Outputs {
		slots = append(slots, slot{v, false, true})
	}
	for _, v := range quantOut {
		slots = append(slots, slot{v, true, true})
	}
	for i, sl := range slots {
		dt, vname, shape := sl.v.Type.DType, names(sl.v), shapeStrings(sl.v.Type.Shape)
		if sl.scale {
			dt, vname, shape = ir.F32, vname+"_scale_inv", nil
		}
		ps = append(ps, param{fmt.Sprintf("t%d", i), ptr(elemType(dt), global)})
		kern.Args = append(kern.Args, Arg{Value: vname, DType: dt.String(), Shape: shape, Output: sl.out})
	}
	for _, s := range syms {
		ps = append(ps, param{"sym_" + sanitize(s), i64})
	}
	k := &kernelBuilder{builder: newBuilder(name, ps), r: r, ptrs: map[*ir.Value]value.Value{}, scales: map[*ir.Value]value.Value{},
		blocks: map[*ir.Value][]int64{}, symbols: map[string]value.Value{}, syms: syms}
	for i, sl := range slots {
		if sl.scale {
			k.scales[sl.v] = k.param(i)
			k.blocks[sl.v] = quantOf(sl.v)
		} else {
			k.ptrs[sl.v] = k.param(i)
		}
	}
	for i, s := range syms {
		k.symbols[s] = k.param(len(slots) + i)
	}
	return k, kern
}

// dim is a dimension's size as an i64 value.
func (k *kernelBuilder) dim(d ir.Dim) value.Value {
	if !d.IsSym() {
		return ci64(d.N)
	}
	v := k.symbols[d.Sym]
	if d.Mul != 0 {
		v = k.mul(v, ci64(d.Mul))
	}
	if d.N != 0 {
		v = k.add(v, ci64(d.N))
	}
	return v
}

// numel is the element count of a shape.
func (k *kernelBuilder) numel(s ir.Shape) value.Value {
	var n value.Value = ci64(1)
	for _, d := range s {
		n = k.mul(n, k.dim(d))
	}
	return n
}

// unflatten splits a linear index into per-axis indices of shape s.
func (k *kernelBuilder) unflatten(i value.Value, s ir.Shape) []value.Value {
	idx := make([]value.Value, len(s))
	for a := len(s) - 1; a >= 0; a-- {
		d := k.dim(s[a])
		if a == 0 {
			idx[a] = i
			break
		}
		idx[a] = k.rem(i, d)
		i = k.div(i, d)
	}
	return idx
}

// flatten is the row-major linear index of idx in shape s.
func (k *kernelBuilder) flatten(idx []value.Value, s ir.Shape) value.Value {
	var n value.Value = ci64(0)
	for a, d := range s {
		n = k.add(k.mul(n, k.dim(d)), idx[a])
	}
	return n
}

// broadcastIndex maps an output multi-index to the linear index of an
// operand of shape in, numpy-broadcast to the output's rank (size-1 axes
// repeat).
func (k *kernelBuilder) broadcastIndex(out []value.Value, in ir.Shape) value.Value {
	off := len(out) - len(in)
	idx := make([]value.Value, len(in))
	for a, d := range in {
		if !d.IsSym() && d.N == 1 {
			idx[a] = ci64(0)
		} else {
			idx[a] = out[off+a]
		}
	}
	return k.flatten(idx, in)
}

// placeholderName is the kernel's name while it is emitted; the unique
// name (ops and a hash of the code) replaces it.
const placeholderName = "deepc_kernel"

// kernelName names a kernel by its first ops and its code's hash.
func kernelName(r *Region, code string) string {
	var ops []string
	for _, op := range r.Ops {
		if len(ops) < 3 {
			ops = append(ops, op.Name)
		}
	}
	sum := sha256.Sum256([]byte(code))
	return sanitize(fmt.Sprintf("%s_%s_%x", r.Kind, strings.Join(ops, "_"), sum[:4]))
}

var _ types.Type = f32
