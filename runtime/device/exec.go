package device

import (
	"encoding/json"
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/bundle"
)

// Buffer is device memory: an address in the backend's address space and
// a size.
type Buffer struct {
	Ptr  uint64
	Size uint64
}

// Backend is what the executor needs from a GPU: memory, copies and
// launches of a bundle's kernels by name. *GPU implements it over the
// driver; tests implement it with the CPU backend as the device.
type Backend interface {
	Alloc(size uint64) (Buffer, error)
	Free(Buffer) error
	Upload(Buffer, []byte) error
	Download([]byte, Buffer) error
	Copy(dst, src Buffer, size uint64) error
	// Launch runs one step of fn: its kernel on the grid, with the
	// pointers and symbol values in the kernel's parameter order.
	Launch(fn *ir.Func, step *program.Step, grid [3]uint32, args []uint64) error
}

// Executor runs a bundle's programs: the same functions the CPU backend
// runs from the bundle's IR, as kernel launches over device buffers.
type Executor struct {
	be       Backend
	programs map[string][]program.Step
	params   map[string]Buffer          // uploaded weights by value name (@name, @name_scale_inv)
	sources  map[string]*runtime.Tensor // the host tensor each weight was uploaded from
	// values are the programs' value tables, kept across runs (a decode
	// loop runs the same function once per token); a function must not
	// change between runs of one executor.
	values map[*ir.Func]*programValues
	// LastPlan is the memory plan of the last Run (its peak is the arena).
	LastPlan *Plan
}

// NewExecutor reads the programs of a bundle's manifest.
func NewExecutor(be Backend, programs map[string][]program.Step) *Executor {
	return &Executor{be: be, programs: programs, params: map[string]Buffer{}, sources: map[string]*runtime.Tensor{}, values: map[*ir.Func]*programValues{}}
}

// Close frees the uploaded weights.
func (e *Executor) Close() error {
	var first error
	for _, b := range e.params {
		if err := e.be.Free(b); err != nil && first == nil {
			first = err
		}
	}
	e.params = map[string]Buffer{}
	return first
}

func dims(s ir.Shape, env map[string]int64) ([]int, error) {
	out := make([]int, len(s))
	for i, d := range s {
		v, err := evalDim(d, env)
		if err != nil {
			return nil, err
		}
		out[i] = int(v)
	}
	return out, nil
}

// MaxDim bounds a dim under symbol values that come from arguments or
// flags (2^40 elements), so that no size derived from it wraps around.
const MaxDim = 1 << 40

// evalDim is d's size under env, checked: a symbol bound, no overflow,
// within 0..MaxDim.
func evalDim(d ir.Dim, env map[string]int64) (int64, error) {
	if d.Sym == "" {
		return d.N, nil
	}
	n, ok := env[d.Sym]
	if !ok {
		return 0, fmt.Errorf("symbol %s is not bound by the arguments", d.Sym)
	}
	mul := d.Mul
	if mul == 0 {
		mul = 1
	}
	p, ok := runtime.MulSizes(mul, n)
	if !ok || p > MaxDim || p+d.N < 0 || p+d.N > MaxDim {
		return 0, fmt.Errorf("dim %s with %s = %d is out of range (0..%d)", d, d.Sym, n, int64(MaxDim))
	}
	return p + d.N, nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// upload allocates a device buffer holding data.
func (e *Executor) upload(data []byte) (Buffer, error) {
	b, err := e.be.Alloc(uint64(len(data)))
	if err != nil {
		return b, err
	}
	return b, e.be.Upload(b, data)
}

// param uploads a weight and its scale grid, again when the host tensor
// bound to the name is another one (a training step replaced it).
func (e *Executor) param(name string, v *ir.Value, t *runtime.Tensor) error {
	if _, ok := e.params["@"+name]; ok && e.sources[name] == t {
		return nil
	}
	for _, key := range []string{"@" + name, "@" + name + "_scale_inv"} {
		if b, ok := e.params[key]; ok {
			if err := e.be.Free(b); err != nil {
				return err
			}
			delete(e.params, key)
		}
	}
	e.sources[name] = t
	if t == nil {
		return fmt.Errorf("weight %s is not bound", name)
	}
	dt := v.Type.DType
	if dt == ir.F8E4M3 && t.Scale == nil && t.DType != ir.F8E4M3 {
		return fmt.Errorf("weight %s: the kernels read fp8 values and their scales, but it was loaded dequantised (load with --precision bf16 or fp8)", name)
	}
	data, err := Encode(t, dt)
	if err != nil {
		return fmt.Errorf("weight %s: %w", name, err)
	}
	b, err := e.upload(data)
	if err != nil {
		return err
	}
	e.params["@"+name] = b
	if t.Scale != nil {
		sd, err := Encode(t.Scale, ir.F32)
		if err != nil {
			return fmt.Errorf("weight %s scales: %w", name, err)
		}
		if e.params["@"+name+"_scale_inv"], err = e.upload(sd); err != nil {
			return err
		}
	}
	return nil
}

// Run executes function f (one of the bundle's graphs) like cpu.Run: the
// weights by name, the arguments in order; it returns the results.
func (e *Executor) Run(f *ir.Func, params map[string]*runtime.Tensor, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	steps, ok := e.programs[f.Name]
	if !ok {
		return nil, fmt.Errorf("the bundle has no GPU program for %s (compile with --graph %s)", f.Name, f.Name)
	}
	env, err := bindSymbols(f, args)
	if err != nil {
		return nil, err
	}
	pv := e.values[f]
	if pv == nil {
		pv = newProgramValues(f)
		e.values[f] = pv
	}
	r := &execution{e: e, f: f, pv: pv, env: env, bufs: map[*ir.Value]Buffer{}, scales: map[*ir.Value]Buffer{}}
	if err := e.uploadParams(f, params); err != nil {
		return nil, err
	}
	defer r.free()
	if err := r.uploadArgs(args); err != nil {
		return nil, err
	}
	if err := r.planArena(steps); err != nil {
		return nil, err
	}
	for si := range steps {
		if err := r.launch(si, &steps[si]); err != nil {
			return nil, err
		}
	}
	return r.results()
}

// execution is one Run of a program: where each value's bytes are on the
// device, and the buffers to free when the run ends.
type execution struct {
	e      *Executor
	f      *ir.Func
	pv     *programValues
	env    map[string]int64 // the symbols the arguments bind
	bufs   map[*ir.Value]Buffer
	scales map[*ir.Value]Buffer // scale grids of block-quantized values
	temps  []Buffer             // the arguments and the arena
	plan   *Plan
	arena  Buffer
}

// bindSymbols binds each symbol of f's argument shapes to the size it has
// in args; grids, scratch sizes and the kernels' symbol parameters are all
// computed from these.
func bindSymbols(f *ir.Func, args []*runtime.Tensor) (map[string]int64, error) {
	if len(args) != len(f.Args) {
		return nil, fmt.Errorf("%s takes %d arguments, got %d", f.Name, len(f.Args), len(args))
	}
	env := map[string]int64{}
	for i, a := range f.Args {
		if len(a.Type.Shape) != len(args[i].Shape) {
			return nil, fmt.Errorf("argument %s: rank %d, want %s", a.Name, len(args[i].Shape), a.Type)
		}
		for j, d := range a.Type.Shape {
			if d.IsSym() && !d.IsAffine() {
				if old, ok := env[d.Sym]; ok && old != int64(args[i].Shape[j]) {
					return nil, fmt.Errorf("argument %s binds %s = %d, already %d", a.Name, d.Sym, args[i].Shape[j], old)
				}
				env[d.Sym] = int64(args[i].Shape[j])
			}
		}
	}
	return env, nil
}

// uploadParams uploads the weights f reads. They stay on the device across
// runs (param uploads only what changed), so they are not the run's temps.
func (e *Executor) uploadParams(f *ir.Func, params map[string]*runtime.Tensor) error {
	for _, op := range f.Body {
		if op.Is(ir.OpParam) {
			n, _ := op.Attrs.Str("name")
			if err := e.param(n, op.Results[0], params[n]); err != nil {
				return err
			}
		}
	}
	return nil
}

// free releases the run's buffers; errors are dropped, as there is nothing
// left to do with them when the run is over.
func (r *execution) free() {
	for _, b := range r.temps {
		r.e.be.Free(b)
	}
}

// uploadArgs copies the arguments to the device, in their IR dtypes.
func (r *execution) uploadArgs(args []*runtime.Tensor) error {
	for i, a := range r.f.Args {
		data, err := Encode(args[i], a.Type.DType)
		if err != nil {
			return fmt.Errorf("argument %s: %w", a.Name, err)
		}
		b, err := r.e.upload(data)
		if err != nil {
			return err
		}
		r.temps = append(r.temps, b)
		r.bufs[a] = b
	}
	return nil
}

// planArena lays out every tensor the steps write in one arena by
// liveness and allocates it: one allocation per run instead of one per
// value, and values that do not overlap in time share bytes.
func (r *execution) planArena(steps []program.Step) error {
	plan, err := planMemory(r.pv, steps, r.env)
	if err != nil {
		return fmt.Errorf("%s: memory plan: %w", r.f.Name, err)
	}
	if plan.Peak > 0 {
		if r.arena, err = r.e.be.Alloc(plan.Peak); err != nil {
			return fmt.Errorf("%s: arena of %d bytes: %w", r.f.Name, plan.Peak, err)
		}
		r.temps = append(r.temps, r.arena)
	}
	r.plan = plan
	r.e.LastPlan = plan
	return nil
}

// slot is value v's (or its scale grid's) place in the arena.
func (r *execution) slot(v *ir.Value, scale bool) (Buffer, error) {
	sl, ok := r.plan.Slot(v, scale)
	if !ok {
		return Buffer{}, fmt.Errorf("%s has no place in the memory plan", r.pv.names[v])
	}
	return Buffer{Ptr: r.arena.Ptr + sl.Offset, Size: sl.Size}, nil
}

// launch runs step si: its tensors bound to buffers, in-place outputs
// seeded with their inputs, the symbols appended, the grid evaluated. A
// grid with no blocks (an empty tensor) launches nothing.
func (r *execution) launch(si int, st *program.Step) error {
	ptrs, outs, err := r.bindArgs(st)
	if err != nil {
		return err
	}
	// In-place kernels update a copy of their input.
	for _, p := range st.InPlace {
		src := ptrs[p[1]]
		dst := outs[p[0]]
		if err := r.e.be.Copy(dst, Buffer{Ptr: src, Size: dst.Size}, dst.Size); err != nil {
			return err
		}
	}
	for _, s := range st.Symbols {
		v, ok := r.env[s]
		if !ok {
			return fmt.Errorf("step %s needs symbol %s", st.Kernel, s)
		}
		ptrs = append(ptrs, uint64(v))
	}
	grid, empty, err := launchGrid(st, r.env)
	if err != nil || empty {
		return err
	}
	if err := r.e.be.Launch(r.f, st, grid, ptrs); err != nil {
		return fmt.Errorf("step %d (%s): %w", si, st.Kernel, err)
	}
	return nil
}

// bindArgs gives the device address of each of st's tensor arguments in
// parameter order, and the buffers of its outputs (for in-place copies).
func (r *execution) bindArgs(st *program.Step) (ptrs []uint64, outs []Buffer, err error) {
	ptrs = make([]uint64, 0, len(st.Args)+len(st.Symbols))
	for _, a := range st.Args {
		b, err := r.argBuffer(st, a)
		if err != nil {
			return nil, nil, err
		}
		if a.Output {
			outs = append(outs, b)
		}
		ptrs = append(ptrs, b.Ptr)
	}
	return ptrs, outs, nil
}

// argBuffer is the buffer argument a of st binds: a weight, an output's
// (or its scales') place in the arena, or a buffer an earlier step wrote.
// Reading a value no step has written yet is an error in the program, not
// a read of stale memory.
func (r *execution) argBuffer(st *program.Step, a program.Arg) (Buffer, error) {
	if a.Scratch {
		sl, ok := r.plan.ScratchSlot(a.Value)
		if !ok {
			return Buffer{}, fmt.Errorf("scratch %s has no place in the memory plan", a.Value)
		}
		return Buffer{Ptr: r.arena.Ptr + sl.Offset, Size: sl.Size}, nil
	}
	v, scale, err := r.pv.arg(a)
	if err != nil {
		return Buffer{}, fmt.Errorf("%s: %w", r.f.Name, err)
	}
	var b Buffer
	var ok bool
	switch {
	case v.Def.Is(ir.OpParam):
		if b, ok = r.e.params[a.Value]; !ok {
			return Buffer{}, fmt.Errorf("weight %s is not uploaded", a.Value)
		}
	case a.Output && scale:
		if b, err = r.slot(v, true); err != nil {
			return Buffer{}, err
		}
		r.scales[v] = b
	case a.Output:
		if b, err = r.slot(v, false); err != nil {
			return Buffer{}, err
		}
		r.bufs[v] = b
	case scale:
		if b, ok = r.scales[v]; !ok {
			return Buffer{}, fmt.Errorf("step %s reads the scales of %s before they are written", st.Kernel, a.Value)
		}
	default:
		if b, ok = r.bufs[v]; !ok {
			return Buffer{}, fmt.Errorf("step %s reads %s before it is written", st.Kernel, a.Value)
		}
	}
	return b, nil
}

// launchGrid evaluates st's grid at the bound symbols, within the
// hardware's limits (2³¹-1 blocks along x, 65535 along y and z); empty
// when a dimension has no blocks.
func launchGrid(st *program.Step, env map[string]int64) (grid [3]uint32, empty bool, err error) {
	for i, g := range st.Launch.Grid {
		n, err := g.Eval(env)
		if err != nil {
			return grid, false, fmt.Errorf("step %s: grid: %w", st.Kernel, err)
		}
		if n > 1<<31-1 || (i > 0 && n > 65535) {
			return grid, false, fmt.Errorf("step %s: grid dimension %d of %d blocks is too large", st.Kernel, i, n)
		}
		grid[i] = uint32(n)
		empty = empty || n == 0
	}
	return grid, empty, nil
}

// results downloads f's results from the buffers that hold them.
func (r *execution) results() ([]*runtime.Tensor, error) {
	f := r.f
	out := make([]*runtime.Tensor, len(f.Results))
	for i, res := range f.Results {
		v := r.pv.resolve(res)
		b, ok := r.bufs[v]
		if !ok && v.Def.Is(ir.OpConst) && len(v.Type.Shape) == 0 {
			// A constant result (the MTP loss of a model without MTP):
			// kernels fold constants, so no buffer holds it.
			x, _ := v.Def.Attrs.Float("value")
			out[i] = runtime.NewTensor(v.Type.DType)
			if v.Type.DType.IsFloat() {
				out[i].F[0] = float32(x)
			} else {
				out[i].I[0] = int64(x)
			}
			continue
		}
		if !ok {
			return nil, fmt.Errorf("result %d (%s) is never written by the program", i, r.pv.names[res])
		}
		shape, err := dims(res.Type.Shape, r.env)
		if err != nil {
			return nil, err
		}
		data := make([]byte, numel(shape)*int(res.Type.DType.Bytes()))
		if err := r.e.be.Download(data, b); err != nil {
			return nil, err
		}
		if out[i], err = Decode(data, res.Type.DType, shape); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Programs decodes a manifest's graphs.
func Programs(man *bundle.Manifest) (map[string][]program.Step, error) {
	out := map[string][]program.Step{}
	for g, raw := range man.Graphs {
		var steps []program.Step
		if err := json.Unmarshal(raw, &steps); err != nil || steps == nil {
			return nil, fmt.Errorf("manifest graph %s: not a program (%v)", g, err)
		}
		out[g] = steps
	}
	return out, nil
}
