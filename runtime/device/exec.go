package device

import (
	"encoding/json"
	"fmt"

	"github.com/deepc-dev/deepc/ir"
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
	Launch(fn *ir.Func, step *bundle.Step, grid [3]uint32, args []uint64) error
}

// Executor runs a bundle's programs: the same functions the CPU backend
// runs from the bundle's IR, as kernel launches over device buffers.
type Executor struct {
	be       Backend
	programs map[string][]bundle.Step
	params   map[string]Buffer          // uploaded weights by value name (@name, @name_scale_inv)
	sources  map[string]*runtime.Tensor // the host tensor each weight was uploaded from
	// LastPlan is the memory plan of the last Run (its peak is the arena).
	LastPlan *Plan
}

// NewExecutor reads the programs of a bundle's manifest.
func NewExecutor(be Backend, programs map[string][]bundle.Step) *Executor {
	return &Executor{be: be, programs: programs, params: map[string]Buffer{}, sources: map[string]*runtime.Tensor{}}
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
		v, ok := d.Eval(env)
		if !ok {
			return nil, fmt.Errorf("symbol %s is not bound by the arguments", d.Sym)
		}
		out[i] = int(v)
	}
	return out, nil
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
	pv := newProgramValues(f)
	names := pv.names
	for _, op := range f.Body {
		if op.Is(ir.OpParam) {
			n, _ := op.Attrs.Str("name")
			if err := e.param(n, op.Results[0], params[n]); err != nil {
				return nil, err
			}
		}
	}
	bufs := map[*ir.Value]Buffer{}
	scales := map[*ir.Value]Buffer{}
	var temps []Buffer
	defer func() {
		for _, b := range temps {
			e.be.Free(b)
		}
	}()
	for i, a := range f.Args {
		data, err := Encode(args[i], a.Type.DType)
		if err != nil {
			return nil, fmt.Errorf("argument %s: %w", a.Name, err)
		}
		b, err := e.upload(data)
		if err != nil {
			return nil, err
		}
		temps = append(temps, b)
		bufs[a] = b
	}
	// Every tensor the steps write lives in one arena laid out by liveness.
	plan, err := planMemory(pv, steps, env)
	if err != nil {
		return nil, fmt.Errorf("%s: memory plan: %w", f.Name, err)
	}
	var arena Buffer
	if plan.Peak > 0 {
		if arena, err = e.be.Alloc(plan.Peak); err != nil {
			return nil, fmt.Errorf("%s: arena of %d bytes: %w", f.Name, plan.Peak, err)
		}
		temps = append(temps, arena)
	}
	e.LastPlan = plan
	alloc := func(v *ir.Value, scale bool) (Buffer, error) {
		sl, ok := plan.Slot(v, scale)
		if !ok {
			return Buffer{}, fmt.Errorf("%s has no place in the memory plan", names[v])
		}
		return Buffer{Ptr: arena.Ptr + sl.Offset, Size: sl.Size}, nil
	}
	for si := range steps {
		st := &steps[si]
		ptrs := make([]uint64, 0, len(st.Args)+len(st.Symbols))
		var outs []Buffer
		for _, a := range st.Args {
			if a.Scratch {
				sl, ok := plan.ScratchSlot(a.Value)
				if !ok {
					return nil, fmt.Errorf("scratch %s has no place in the memory plan", a.Value)
				}
				b := Buffer{Ptr: arena.Ptr + sl.Offset, Size: sl.Size}
				if a.Output {
					outs = append(outs, b)
				}
				ptrs = append(ptrs, b.Ptr)
				continue
			}
			v, scale, err := pv.arg(a)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			var b Buffer
			switch {
			case v.Def.Is(ir.OpParam):
				b, ok = e.params[a.Value]
				if !ok {
					return nil, fmt.Errorf("weight %s is not uploaded", a.Value)
				}
			case a.Output && scale:
				if b, err = alloc(v, true); err != nil {
					return nil, err
				}
				scales[v] = b
			case a.Output:
				if b, err = alloc(v, false); err != nil {
					return nil, err
				}
				bufs[v] = b
			case scale:
				if b, ok = scales[v]; !ok {
					return nil, fmt.Errorf("step %s reads the scales of %s before they are written", st.Kernel, a.Value)
				}
			default:
				if b, ok = bufs[v]; !ok {
					return nil, fmt.Errorf("step %s reads %s before it is written", st.Kernel, a.Value)
				}
			}
			if a.Output {
				outs = append(outs, b)
			}
			ptrs = append(ptrs, b.Ptr)
		}
		// In-place kernels update a copy of their input.
		for _, p := range st.InPlace {
			src := ptrs[p[1]]
			dst := outs[p[0]]
			if err := e.be.Copy(dst, Buffer{Ptr: src, Size: dst.Size}, dst.Size); err != nil {
				return nil, err
			}
		}
		for _, s := range st.Symbols {
			v, ok := env[s]
			if !ok {
				return nil, fmt.Errorf("step %s needs symbol %s", st.Kernel, s)
			}
			ptrs = append(ptrs, uint64(v))
		}
		var grid [3]uint32
		empty := false
		for i, g := range st.Launch.Grid {
			n, err := g.Eval(env)
			if err != nil {
				return nil, fmt.Errorf("step %s: grid: %w", st.Kernel, err)
			}
			if n > 1<<31-1 || (i > 0 && n > 65535) {
				return nil, fmt.Errorf("step %s: grid dimension %d of %d blocks is too large", st.Kernel, i, n)
			}
			grid[i] = uint32(n)
			empty = empty || n == 0
		}
		if empty {
			continue
		}
		if err := e.be.Launch(f, st, grid, ptrs); err != nil {
			return nil, fmt.Errorf("step %d (%s): %w", si, st.Kernel, err)
		}
	}
	out := make([]*runtime.Tensor, len(f.Results))
	for i, r := range f.Results {
		v := pv.resolve(r)
		b, ok := bufs[v]
		if !ok {
			return nil, fmt.Errorf("result %d (%s) is never written by the program", i, names[r])
		}
		shape, err := dims(r.Type.Shape, env)
		if err != nil {
			return nil, err
		}
		data := make([]byte, numel(shape)*int(r.Type.DType.Bytes()))
		if err := e.be.Download(data, b); err != nil {
			return nil, err
		}
		if out[i], err = Decode(data, r.Type.DType, shape); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Programs decodes a manifest's graphs.
func Programs(man *bundle.Manifest) (map[string][]bundle.Step, error) {
	out := map[string][]bundle.Step{}
	for g, raw := range man.Graphs {
		var steps []bundle.Step
		if err := json.Unmarshal(raw, &steps); err != nil {
			return nil, fmt.Errorf("manifest graph %s: %v", g, err)
		}
		out[g] = steps
	}
	return out, nil
}
