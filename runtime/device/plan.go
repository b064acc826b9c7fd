package device

import (
	"fmt"
	"sort"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime"
)

// The memory plan: every tensor a program's steps write lives in one arena
// at an offset chosen by liveness. A value is live from the step that
// writes it to the last step that reads it (to the end when the function
// returns it); a step's outputs never overlap its inputs. Offsets come
// from a first-fit free list with coalescing, 256-byte aligned as device
// allocations are. Function arguments and weights are not in the arena.

const planAlign = 256

// Slot is one planned tensor: a value's data or a value's scale grid.
type Slot struct {
	Value        *ir.Value
	Scale        bool
	Offset, Size uint64
	First, Last  int // steps that write it and last read it
}

// Plan is a program's arena layout for bound symbols.
type Plan struct {
	Slots []*Slot
	Peak  uint64 // arena bytes
	Total uint64 // bytes without reuse (one allocation per tensor)
	byKey map[slotKey]*Slot
}

type slotKey struct {
	v       *ir.Value
	scale   bool
	scratch string // a scratch argument's name (v is nil)
}

// Slot finds a value's slot.
func (p *Plan) Slot(v *ir.Value, scale bool) (*Slot, bool) {
	s, ok := p.byKey[slotKey{v: v, scale: scale}]
	return s, ok
}

// ScratchSlot finds a scratch tensor's slot.
func (p *Plan) ScratchSlot(name string) (*Slot, bool) {
	s, ok := p.byKey[slotKey{scratch: name}]
	return s, ok
}

// scratchBytes is a scratch argument's size under env.
func scratchBytes(a program.Arg, env map[string]int64) (uint64, error) {
	dt, ok := ir.ParseDType(a.DType)
	if !ok {
		return 0, fmt.Errorf("scratch %s: dtype %q", a.Value, a.DType)
	}
	sizes := []int64{int64(dt.Bytes())}
	for _, d := range a.Shape {
		dd, err := program.ParseDim(d)
		if err != nil {
			return 0, err
		}
		v, err := evalDim(dd, env)
		if err != nil {
			return 0, fmt.Errorf("scratch %s: %w", a.Value, err)
		}
		sizes = append(sizes, v)
	}
	return checkedBytes(sizes...)
}

// MaxSlotBytes bounds one tensor of a memory plan (1 PiB, far beyond any
// device): symbol values from a flag must not wrap a size around.
const MaxSlotBytes = 1 << 50

func checkedBytes(sizes ...int64) (uint64, error) {
	n, ok := runtime.MulSizes(sizes...)
	if !ok || n > MaxSlotBytes {
		return 0, fmt.Errorf("size %v is more than %d bytes (1 PiB) or negative", sizes, int64(MaxSlotBytes))
	}
	return uint64(n), nil
}

// programValues resolves the step arguments of f to IR values.
type programValues struct {
	f      *ir.Func
	byName map[string]*ir.Value
	alias  map[*ir.Value]*ir.Value
	names  map[*ir.Value]string
}

func newProgramValues(f *ir.Func) *programValues {
	pv := &programValues{f: f, byName: map[string]*ir.Value{}, alias: map[*ir.Value]*ir.Value{}, names: ir.ValueNames(f)}
	for v, n := range pv.names {
		pv.byName[n] = v
	}
	for _, op := range f.Body {
		switch op.Def() {
		case ir.OpParam:
			n, _ := op.Attrs.Str("name")
			pv.byName["@"+n] = op.Results[0]
		case ir.OpReshape:
			pv.alias[op.Results[0]] = op.Args[0]
		}
	}
	return pv
}

func (pv *programValues) resolve(v *ir.Value) *ir.Value {
	for pv.alias[v] != nil {
		v = pv.alias[v]
	}
	return v
}

// arg is the value a step argument binds, and whether it is its scales.
func (pv *programValues) arg(a program.Arg) (*ir.Value, bool, error) {
	name, scale := a.Value, false
	if a.ScaleOf != "" {
		name, scale = a.ScaleOf, true
	}
	v := pv.byName[name]
	if v == nil {
		return nil, false, fmt.Errorf("step argument %s names no value", a.Value)
	}
	return pv.resolve(v), scale, nil
}

// slotBytes is the size of a value (or its scale grid) under env.
func slotBytes(v *ir.Value, scale bool, block []int64, env map[string]int64) (uint64, error) {
	shape, err := dims(v.Type.Shape, env)
	if err != nil {
		return 0, err
	}
	if scale {
		if len(block) != 2 {
			return 0, fmt.Errorf("a scale grid without a block")
		}
		if block[0] <= 0 || block[1] <= 0 {
			return 0, fmt.Errorf("a scale block %v", block)
		}
		shape = runtime.ScaleGrid(shape, [2]int{int(block[0]), int(block[1])})
		return checkedBytes(append(ints64(shape), 4)...)
	}
	return checkedBytes(append(ints64(shape), int64(v.Type.DType.Bytes()))...)
}

func ints64(s []int) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

// PlanMemory lays out the tensors f's steps write, for the symbols in env.
func PlanMemory(f *ir.Func, steps []program.Step, env map[string]int64) (*Plan, error) {
	return planMemory(newProgramValues(f), steps, env)
}

func planMemory(pv *programValues, steps []program.Step, env map[string]int64) (*Plan, error) {
	p := &Plan{byKey: map[slotKey]*Slot{}}
	for i := range steps {
		for _, a := range steps[i].Args {
			var key slotKey
			var v *ir.Value
			var scale bool
			if a.Scratch {
				key = slotKey{scratch: a.Value}
			} else {
				var err error
				if v, scale, err = pv.arg(a); err != nil {
					return nil, fmt.Errorf("step %d (%s): %w", i, steps[i].Kernel, err)
				}
				key = slotKey{v: v, scale: scale}
			}
			if a.Output {
				if p.byKey[key] != nil {
					return nil, fmt.Errorf("step %d (%s): %s is written twice", i, steps[i].Kernel, a.Value)
				}
				var size uint64
				var err error
				if a.Scratch {
					size, err = scratchBytes(a, env)
				} else {
					size, err = slotBytes(v, scale, a.Block, env)
				}
				if err != nil {
					return nil, fmt.Errorf("step %d (%s), %s: %w", i, steps[i].Kernel, a.Value, err)
				}
				s := &Slot{Value: v, Scale: scale, Size: size, First: i, Last: i}
				p.byKey[key] = s
				p.Slots = append(p.Slots, s)
			} else if s := p.byKey[key]; s != nil {
				s.Last = i
			}
		}
	}
	for _, r := range pv.f.Results {
		if s := p.byKey[slotKey{v: pv.resolve(r)}]; s != nil {
			s.Last = len(steps)
		}
	}
	// First fit over a free list, in step order.
	type block struct{ off, size uint64 }
	var free []block
	var end uint64
	take := func(size uint64) uint64 {
		size = (max(size, 1) + planAlign - 1) &^ (planAlign - 1)
		for i, b := range free {
			if b.size >= size {
				off := b.off
				if b.size == size {
					free = append(free[:i], free[i+1:]...)
				} else {
					free[i] = block{b.off + size, b.size - size}
				}
				return off
			}
		}
		// Grow, reusing a free block at the end of the arena.
		if n := len(free); n > 0 && free[n-1].off+free[n-1].size == end {
			off := free[n-1].off
			free = free[:n-1]
			end = off + size
			return off
		}
		off := end
		end += size
		return off
	}
	release := func(off, size uint64) {
		size = (max(size, 1) + planAlign - 1) &^ (planAlign - 1)
		free = append(free, block{off, size})
		sort.Slice(free, func(i, j int) bool { return free[i].off < free[j].off })
		merged := free[:1]
		for _, b := range free[1:] {
			last := &merged[len(merged)-1]
			if last.off+last.size == b.off {
				last.size += b.size
			} else {
				merged = append(merged, b)
			}
		}
		free = merged
	}
	byFirst := map[int][]*Slot{}
	byLast := map[int][]*Slot{}
	for _, s := range p.Slots {
		byFirst[s.First] = append(byFirst[s.First], s)
		byLast[s.Last] = append(byLast[s.Last], s)
		p.Total += (max(s.Size, 1) + planAlign - 1) &^ (planAlign - 1)
	}
	for i := range steps {
		for _, s := range byFirst[i] {
			s.Offset = take(s.Size)
		}
		// Values last read by step i die after it (its outputs are placed
		// before, so they never overlap its inputs).
		for _, s := range byLast[i] {
			release(s.Offset, s.Size)
		}
	}
	p.Peak = end
	return p, nil
}
