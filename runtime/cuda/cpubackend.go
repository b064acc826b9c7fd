package cuda

import (
	"fmt"
	"slices"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/cpu"
)

// CPUBackend is a Backend whose memory is host memory and whose launches
// run the step's region (the IR ops plan-kernels grouped into the kernel)
// on the CPU backend, reading and writing the device layouts. It checks,
// without a GPU, everything the executor does around the kernels: buffer
// sizes and lifetimes, argument order, symbols, views, in-place updates,
// weight and scale layouts. It is also the reference that gpu-check
// compares each kernel against.
type CPUBackend struct {
	Opts     cpu.Options
	mem      map[uint64][]byte
	next     uint64
	Launches int
}

// NewCPUBackend returns an empty backend.
func NewCPUBackend(opts cpu.Options) *CPUBackend {
	return &CPUBackend{Opts: opts, mem: map[uint64][]byte{}, next: 1 << 20}
}

func (c *CPUBackend) Alloc(size uint64) (Buffer, error) {
	p := c.next
	c.next += (max(size, 1) + 255) &^ 255 // 256-byte aligned, as cuMemAlloc
	c.mem[p] = make([]byte, size)
	return Buffer{Ptr: p, Size: size}, nil
}

// buf is the memory at p (which may point inside an allocation, as
// arena offsets do), checked to hold size bytes.
func (c *CPUBackend) buf(p uint64, size uint64) ([]byte, error) {
	base, ok := c.base(p)
	if !ok {
		return nil, fmt.Errorf("pointer %#x is not in an allocation", p)
	}
	b := c.mem[base][p-base:]
	if uint64(len(b)) < size {
		return nil, fmt.Errorf("pointer %#x (allocation %#x + %d) has %d bytes, %d used", p, base, p-base, len(b), size)
	}
	return b, nil
}

// base finds the allocation holding p.
func (c *CPUBackend) base(p uint64) (uint64, bool) {
	if _, ok := c.mem[p]; ok {
		return p, true
	}
	for b, m := range c.mem {
		if p >= b && p < b+uint64(max(len(m), 1)) {
			return b, true
		}
	}
	return 0, false
}

func (c *CPUBackend) Free(b Buffer) error {
	if _, ok := c.mem[b.Ptr]; !ok {
		return fmt.Errorf("free of %#x: not allocated", b.Ptr)
	}
	delete(c.mem, b.Ptr)
	return nil
}

func (c *CPUBackend) Upload(b Buffer, data []byte) error {
	m, err := c.buf(b.Ptr, uint64(len(data)))
	if err != nil {
		return err
	}
	copy(m, data)
	return nil
}

func (c *CPUBackend) Download(dst []byte, b Buffer) error {
	m, err := c.buf(b.Ptr, uint64(len(dst)))
	if err != nil {
		return err
	}
	copy(dst, m)
	return nil
}

func (c *CPUBackend) Copy(dst, src Buffer, size uint64) error {
	d, err := c.buf(dst.Ptr, size)
	if err != nil {
		return err
	}
	s, err := c.buf(src.Ptr, size)
	if err != nil {
		return err
	}
	copy(d, s[:size])
	return nil
}

// Launch runs the step's region on the CPU.
func (c *CPUBackend) Launch(fn *ir.Func, st *bundle.Step, grid [3]uint32, args []uint64) error {
	c.Launches++
	if len(args) != len(st.Args)+len(st.Symbols) {
		return fmt.Errorf("%d launch arguments for %d tensors and %d symbols", len(args), len(st.Args), len(st.Symbols))
	}
	env := map[string]int64{}
	for i, s := range st.Symbols {
		env[s] = int64(args[len(st.Args)+i])
	}
	rf, inputs, outputs, err := RegionFunc(fn, st, env)
	if err != nil {
		return err
	}
	// Inputs: symbol-binding dummies, then the region's inputs decoded from
	// their buffers (a quantized input with its scale grid).
	var targs []*runtime.Tensor
	for _, s := range st.Symbols {
		targs = append(targs, runtime.NewTensor(ir.I32, int(env[s])))
	}
	scaleOf := map[string]int{}
	for i, a := range st.Args {
		if a.ScaleOf != "" {
			scaleOf[a.ScaleOf] = i
		}
	}
	for _, in := range inputs {
		a := st.Args[in.arg]
		t, err := c.read(args[in.arg], in.v.Type.DType, in.shape)
		if err != nil {
			return fmt.Errorf("input %s: %w", a.Value, err)
		}
		if si, ok := scaleOf[a.Value]; ok {
			b := st.Args[si].Block
			if len(b) != 2 {
				return fmt.Errorf("scales of %s: no block", a.Value)
			}
			block := [2]int{int(b[0]), int(b[1])}
			grid := runtime.ScaleGrid(in.shape, block)
			if t.Scale, err = c.read(args[si], ir.F32, grid); err != nil {
				return fmt.Errorf("scales of %s: %w", a.Value, err)
			}
			t.Block = block
		}
		targs = append(targs, t)
	}
	res, err := cpu.Run(rf, nil, targs, c.Opts)
	if err != nil {
		return err
	}
	for i, out := range outputs {
		a := st.Args[out.arg]
		data, err := Encode(res[i], out.v.Type.DType)
		if err != nil {
			return fmt.Errorf("output %s: %w", a.Value, err)
		}
		if err := c.Upload(Buffer{Ptr: args[out.arg]}, data); err != nil {
			return fmt.Errorf("output %s: %w", a.Value, err)
		}
		if si, ok := scaleOf[a.Value]; ok && res[i].Scale != nil {
			sd, err := Encode(res[i].Scale, ir.F32)
			if err != nil {
				return err
			}
			if err := c.Upload(Buffer{Ptr: args[si]}, sd); err != nil {
				return fmt.Errorf("scales of %s: %w", a.Value, err)
			}
		}
	}
	return nil
}

func (c *CPUBackend) read(p uint64, dt ir.DType, shape []int) (*runtime.Tensor, error) {
	n := numel(shape) * int(dt.Bytes())
	b, err := c.buf(p, uint64(n))
	if err != nil {
		return nil, err
	}
	return Decode(b[:n], dt, shape)
}

// regionValue is a region input or output: its step argument, its value in
// fn and its concrete shape.
type regionValue struct {
	arg   int
	v     *ir.Value
	shape []int
}

// RegionFunc builds a function computing step st's region of fn: leading
// i32 arguments [S] bind each symbol of the step, then one argument per
// region input (concrete shapes under env), the region's ops, and its
// outputs as results, in the step's argument order.
func RegionFunc(fn *ir.Func, st *bundle.Step, env map[string]int64) (*ir.Func, []regionValue, []regionValue, error) {
	byName := newProgramValues(fn).byName
	var ops []*ir.Op
	for _, op := range fn.Body {
		if id, ok := op.Attrs.Int("kernel"); ok && int(id) == st.Region {
			ops = append(ops, op)
		}
	}
	if len(ops) == 0 {
		return nil, nil, nil, fmt.Errorf("func %s has no region %d", fn.Name, st.Region)
	}
	rf := &ir.Func{Name: fmt.Sprintf("%s_region%d", fn.Name, st.Region)}
	for _, s := range st.Symbols {
		rf.Args = append(rf.Args, &ir.Value{Type: ir.T(ir.I32, ir.S(s)), Index: len(rf.Args), Name: "sym_" + s})
	}
	mapped := map[*ir.Value]*ir.Value{}
	byParam := map[string]*ir.Value{} // a param may be read by several param ops
	var inputs, outputs []regionValue
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
		rv := regionValue{arg: i, v: v, shape: shape}
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
		if v.Def != nil && v.Def.Name == "param" {
			byParam[a.Value] = nv
		}
		inputs = append(inputs, rv)
	}
	var clone func(op *ir.Op) *ir.Op
	clone = func(op *ir.Op) *ir.Op {
		args := make([]*ir.Value, len(op.Args))
		for j, a := range op.Args {
			if mapped[a] == nil && a.Def != nil && a.Def.Name == "const" {
				c := clone(a.Def)
				rf.Body = append(rf.Body, c)
				mapped[a] = c.Results[0]
			}
			if mapped[a] == nil && a.Def != nil && a.Def.Name == "param" {
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
		rf.Results = append(rf.Results, mapped[o.v])
	}
	if slices.Contains(rf.Results, nil) {
		return nil, nil, nil, fmt.Errorf("region %d: an output is not computed in it", st.Region)
	}
	return rf, inputs, outputs, nil
}
