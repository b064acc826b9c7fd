package codegen

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
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

func gridOf(div int64, dims ...ir.Dim) program.GridDim {
	g := program.GridDim{Div: div}
	for _, d := range dims {
		g.Elems = append(g.Elems, d.String())
	}
	return g
}

func one() program.GridDim { return program.GridDim{Div: 1} }

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
	scratch map[string]value.Value    // scratch pointers by name
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
func newKernel(name string, r *Region, names func(*ir.Value) string, quantOf func(*ir.Value) []int64, scratch ...program.Arg) (*kernelBuilder, *program.Step) {
	syms := regionSymbols(r)
	var ps []param
	kern := &program.Step{Region: r.ID, Symbols: syms}
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
		arg := program.Arg{Value: names(sl.v), DType: sl.v.Type.DType.String(), Shape: shapeStrings(sl.v.Type.Shape), Output: sl.out}
		if sl.scale {
			arg = program.Arg{Value: arg.Value + "_scale_inv", DType: "f32", Output: sl.out, ScaleOf: arg.Value, Block: quantOf(sl.v)}
		}
		dt, _ := ir.ParseDType(arg.DType)
		ps = append(ps, param{fmt.Sprintf("t%d", i), ptr(elemType(dt), global)})
		kern.Args = append(kern.Args, arg)
	}
	for i, a := range scratch {
		dt, _ := ir.ParseDType(a.DType)
		ps = append(ps, param{fmt.Sprintf("scratch%d", i), ptr(elemType(dt), global)})
		kern.Args = append(kern.Args, a)
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
	k.scratch = map[string]value.Value{}
	for i, a := range scratch {
		k.scratch[a.Value] = k.param(len(slots) + i)
	}
	for i, s := range syms {
		k.symbols[s] = k.param(len(slots) + len(scratch) + i)
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
