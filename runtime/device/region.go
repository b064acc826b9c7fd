package device

import (
	"fmt"
	"slices"
	"sync"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
)

// RegionValue is a region input or output: its step argument, its value in
// fn and its concrete shape.
type RegionValue struct {
	Arg   int
	V     *ir.Value
	Shape []int
}

// RegionFunc builds a function computing step st's region of fn: leading
// i32 arguments [S] bind each symbol of the step, then one argument per
// region input (concrete shapes under env), the region's ops, and its
// outputs as results, in the step's argument order.
func RegionFunc(fn *ir.Func, st *program.Step, env map[string]int64) (*ir.Func, []RegionValue, []RegionValue, error) {
	return new(Regions).Func(fn, st, env)
}

// Regions builds region functions as RegionFunc does, keeping each
// program's value names and ops by region between launches: finding them
// walks (and names) the whole function, and a program launches every one
// of its steps, so per launch that walk was most of a small kernel's cost
// on the CPU. The zero value is ready; a program must not change while a
// Regions is in use with it.
type Regions struct {
	mu    sync.Mutex
	progs map[*ir.Func]*regionIndex
}

// regionIndex is what Regions keeps of a program.
type regionIndex struct {
	byName map[string]*ir.Value
	ops    map[int][]*ir.Op // by region (the ops' kernel attribute)
}

func (r *Regions) index(fn *ir.Func) *regionIndex {
	r.mu.Lock()
	defer r.mu.Unlock()
	if x := r.progs[fn]; x != nil {
		return x
	}
	x := &regionIndex{byName: newProgramValues(fn).byName, ops: map[int][]*ir.Op{}}
	for _, op := range fn.Body {
		if id, ok := op.Attrs.Int("kernel"); ok {
			x.ops[int(id)] = append(x.ops[int(id)], op)
		}
	}
	if r.progs == nil {
		r.progs = map[*ir.Func]*regionIndex{}
	}
	r.progs[fn] = x
	return x
}

// Func is RegionFunc with fn's index kept for the next launch.
func (r *Regions) Func(fn *ir.Func, st *program.Step, env map[string]int64) (*ir.Func, []RegionValue, []RegionValue, error) {
	x := r.index(fn)
	byName, ops := x.byName, x.ops[st.Region]
	if len(ops) == 0 {
		return nil, nil, nil, fmt.Errorf("func %s has no region %d", fn.Name, st.Region)
	}
	rf := &ir.Func{Name: fmt.Sprintf("%s_region%d", fn.Name, st.Region)}
	for _, s := range st.Symbols {
		rf.Args = append(rf.Args, &ir.Value{Type: ir.T(ir.I32, ir.S(s)), Index: len(rf.Args), Name: "sym_" + s})
	}
	mapped := map[*ir.Value]*ir.Value{}
	byParam := map[string]*ir.Value{} // a param may be read by several param ops
	var inputs, outputs []RegionValue
	for i, a := range st.Args {
		if a.ScaleOf != "" || a.Scratch {
			continue
		}
		v := byName[a.Value]
		if v == nil {
			return nil, nil, nil, fmt.Errorf("step argument %s names no value of %s", a.Value, fn.Name)
		}
		shape, err := dims(v.Type.Shape, env)
		if err != nil {
			return nil, nil, nil, err
		}
		rv := RegionValue{Arg: i, V: v, Shape: shape}
		if a.Output {
			outputs = append(outputs, rv)
			continue
		}
		cs := make(ir.Shape, len(shape))
		for j, d := range shape {
			cs[j] = ir.C(int64(d))
		}
		nv := &ir.Value{Type: ir.Type{Shape: cs, DType: v.Type.DType}, Index: len(rf.Args), Name: fmt.Sprintf("in%d", i)}
		rf.Args = append(rf.Args, nv)
		mapped[v] = nv
		if v.Def.Is(ir.OpParam) {
			byParam[a.Value] = nv
		}
		inputs = append(inputs, rv)
	}
	var clone func(op *ir.Op) *ir.Op
	clone = func(op *ir.Op) *ir.Op {
		args := make([]*ir.Value, len(op.Args))
		for j, a := range op.Args {
			if mapped[a] == nil && a.Def.Is(ir.OpConst) {
				c := clone(a.Def)
				rf.Body = append(rf.Body, c)
				mapped[a] = c.Results[0]
			}
			if mapped[a] == nil && a.Def.Is(ir.OpParam) {
				n, _ := a.Def.Attrs.Str("name")
				mapped[a] = byParam["@"+n]
			}
			args[j] = mapped[a]
		}
		types := make([]ir.Type, len(op.Results))
		for j, r := range op.Results {
			types[j] = r.Type
		}
		n := ir.NewOp(op.Name, args, op.Attrs, types, op.Loc)
		for j, r := range op.Results {
			mapped[r] = n.Results[j]
		}
		return n
	}
	for _, op := range ops {
		c := clone(op)
		for j, a := range c.Args {
			if a == nil {
				return nil, nil, nil, fmt.Errorf("region %d: %s operand %d is neither an input nor computed in the region", st.Region, op.Name, j)
			}
		}
		rf.Body = append(rf.Body, c)
	}
	for _, o := range outputs {
		rf.Results = append(rf.Results, mapped[o.V])
	}
	if slices.Contains(rf.Results, nil) {
		return nil, nil, nil, fmt.Errorf("region %d: an output is not computed in it", st.Region)
	}
	return rf, inputs, outputs, nil
}
