package device

import (
	"bytes"
	"fmt"
	"math"
	"sort"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime"
)

// CompareBackend checks every kernel launch of a candidate backend (the
// GPU) against a reference backend (the CPU backend) on the same inputs.
// Memory is mirrored on both. Before each launch the candidate's outputs
// are poisoned (every byte 0xFF: NaN for floats, −1 for integers; not the
// outputs an in-place kernel updates); after
// it, both outputs are read back and compared, and the reference's outputs
// are copied into the candidate's buffers, so every kernel is checked on
// correct inputs and one kernel's error never hides or causes another's.
type CompareBackend struct {
	Cand, Ref Backend
	refOf     map[uint64]Buffer // candidate pointer → reference buffer
	Results   map[string]*KernelCheck
	// Tolerance is the relative error allowed for a kernel's float output
	// of a dtype (nil: Tolerance(dtype, false)). A linear kernel whose
	// error exceeds it is measured again against the scale of its
	// rounding error (KernelCheck.ScaleErr).
	Tolerance func(kernel, dtype string) float64
	regions   Regions
}

// KernelCheck is one kernel's worst result over its launches.
type KernelCheck struct {
	Kernel   string
	Launches int
	// RelErr is the largest relative Frobenius error ‖cand − ref‖/‖ref‖ of
	// a float output (+Inf when the candidate left NaN or Inf where the
	// reference has a finite value); Mismatch counts differing elements of
	// integer outputs.
	RelErr   float64
	Mismatch int
	Elements int
	DType    string // the float output dtype that set RelErr
	// Precision is the least precise float dtype among the results of the
	// kernel's ops (a bf16 GEMM result cast to f32 is accurate to bf16):
	// what its tolerance is for.
	Precision string
	// Differ counts output elements whose bits differ from the reference's.
	Differ int
	// ScaleErr is, for a kernel whose ops are all linear (ir.OpDef.Linear)
	// and whose RelErr exceeds its tolerance, the largest ‖cand − ref‖ /
	// ‖ref on |inputs|‖: the error relative to the magnitude of the terms
	// summed, which is what rounding can be held to where the result
	// cancels to nearly zero (a row of a softmax gradient sums to 0). +Inf
	// when not measured.
	ScaleErr float64
	// Err is the candidate's error on its last launch, or on reading
	// that launch's outputs back (where a fault in the kernel shows), if
	// one failed; nothing was compared then.
	Err string
}

// NewCompareBackend pairs a candidate with a reference.
func NewCompareBackend(cand, ref Backend) *CompareBackend {
	return &CompareBackend{Cand: cand, Ref: ref, refOf: map[uint64]Buffer{}, Results: map[string]*KernelCheck{}}
}

func (c *CompareBackend) Alloc(size uint64) (Buffer, error) {
	b, err := c.Cand.Alloc(size)
	if err != nil {
		return b, err
	}
	r, err := c.Ref.Alloc(size)
	if err != nil {
		return b, err
	}
	c.refOf[b.Ptr] = r
	return b, nil
}

// ref is the reference buffer mirroring b (b may point inside an
// allocation: an arena offset).
func (c *CompareBackend) ref(b Buffer) (Buffer, error) {
	if r, ok := c.refOf[b.Ptr]; ok {
		return r, nil
	}
	for cp, r := range c.refOf {
		if b.Ptr > cp && b.Ptr < cp+max(r.Size, 1) {
			return Buffer{Ptr: r.Ptr + (b.Ptr - cp), Size: r.Size - (b.Ptr - cp)}, nil
		}
	}
	return Buffer{}, fmt.Errorf("compare: pointer %#x has no reference buffer", b.Ptr)
}

func (c *CompareBackend) Free(b Buffer) error {
	r, err := c.ref(b)
	if err != nil {
		return err
	}
	delete(c.refOf, b.Ptr)
	if err := c.Ref.Free(r); err != nil {
		return err
	}
	return c.Cand.Free(b)
}

func (c *CompareBackend) Upload(b Buffer, data []byte) error {
	r, err := c.ref(b)
	if err != nil {
		return err
	}
	if err := c.Ref.Upload(r, data); err != nil {
		return err
	}
	return c.Cand.Upload(b, data)
}

// Download reads the candidate's buffer.
func (c *CompareBackend) Download(dst []byte, b Buffer) error { return c.Cand.Download(dst, b) }

func (c *CompareBackend) Copy(dst, src Buffer, size uint64) error {
	rd, err := c.ref(dst)
	if err != nil {
		return err
	}
	rs, err := c.ref(src)
	if err != nil {
		return err
	}
	if err := c.Ref.Copy(rd, rs, size); err != nil {
		return err
	}
	return c.Cand.Copy(dst, src, size)
}

// outputSizes are the byte sizes of a step's outputs under its symbols.
func outputSizes(fn *ir.Func, st *program.Step, args []uint64) (map[int]int, map[int]ir.DType, error) {
	env := map[string]int64{}
	for i, s := range st.Symbols {
		env[s] = int64(args[len(st.Args)+i])
	}
	sizes, types := map[int]int{}, map[int]ir.DType{}
	for i, a := range st.Args {
		if !a.Output || a.Scratch {
			continue // scratch is checked through the outputs computed from it
		}
		var shape []int
		for _, d := range a.Shape {
			dd, err := program.ParseDim(d)
			if err != nil {
				return nil, nil, err
			}
			v, ok := dd.Eval(env)
			if !ok {
				return nil, nil, fmt.Errorf("output %s: symbol %s unbound", a.Value, dd.Sym)
			}
			shape = append(shape, int(v))
		}
		dt, ok := ir.ParseDType(a.DType)
		if !ok {
			return nil, nil, fmt.Errorf("output %s: dtype %q", a.Value, a.DType)
		}
		if a.ScaleOf != "" {
			continue // scales are checked through the values they scale
		}
		sizes[i], types[i] = numel(shape)*int(dt.Bytes()), dt
	}
	return sizes, types, nil
}

// Launch poisons, launches on both, compares and repairs.
func (c *CompareBackend) Launch(fn *ir.Func, st *program.Step, grid [3]uint32, args []uint64) error {
	sizes, types, err := outputSizes(fn, st, args)
	if err != nil {
		return err
	}
	refArgs := append([]uint64(nil), args...)
	for i, a := range st.Args {
		r, err := c.ref(Buffer{Ptr: args[i]})
		if err != nil {
			return fmt.Errorf("argument %s: %w", a.Value, err)
		}
		refArgs[i] = r.Ptr
	}
	// In-place outputs hold a copy of their input, which the kernel only
	// updates: they are not poisoned.
	inPlace := map[int]bool{}
	out := 0
	for i, a := range st.Args {
		if !a.Output {
			continue
		}
		for _, p := range st.InPlace {
			if p[0] == out {
				inPlace[i] = true
			}
		}
		out++
	}
	for i, n := range sizes {
		if inPlace[i] {
			continue
		}
		poison := make([]byte, n)
		for j := range poison {
			poison[j] = 0xFF
		}
		if err := c.Cand.Upload(Buffer{Ptr: args[i], Size: uint64(n)}, poison); err != nil {
			return err
		}
	}
	kc := c.Results[st.Kernel]
	if kc == nil {
		kc = &KernelCheck{Kernel: st.Kernel, ScaleErr: math.Inf(1), Precision: regionPrecision(fn, st)}
		c.Results[st.Kernel] = kc
	}
	kc.Launches++
	if err := c.Cand.Launch(fn, st, grid, args); err != nil {
		kc.Err = err.Error()
		return err
	}
	if err := c.Ref.Launch(fn, st, grid, refArgs); err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	var over []int
	cands := map[int]*runtime.Tensor{}
	idx := make([]int, 0, len(sizes))
	for i := range sizes {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		n := sizes[i]
		got, want := make([]byte, n), make([]byte, n)
		if err := c.Cand.Download(got, Buffer{Ptr: args[i], Size: uint64(n)}); err != nil {
			kc.Err = err.Error() // a fault during the kernel surfaces at the first copy after it
			return err
		}
		if err := c.Ref.Download(want, Buffer{Ptr: refArgs[i], Size: uint64(n)}); err != nil {
			return err
		}
		dt := types[i]
		elems := n / int(dt.Bytes())
		g, err := Decode(got, dt, []int{elems})
		if err != nil {
			return err
		}
		w, err := Decode(want, dt, []int{elems})
		if err != nil {
			return err
		}
		kc.Elements += elems
		bs := int(dt.Bytes())
		for j := 0; j < elems; j++ {
			if !bytes.Equal(got[j*bs:(j+1)*bs], want[j*bs:(j+1)*bs]) {
				kc.Differ++
			}
		}
		if dt.IsFloat() {
			if e := RelErr(g, w); e > kc.RelErr || kc.DType == "" {
				kc.RelErr = max(kc.RelErr, e)
				kc.DType = dt.String()
			}
		} else {
			for j := range g.I {
				if g.I[j] != w.I[j] {
					kc.Mismatch++
				}
			}
		}
		if err := c.Cand.Upload(Buffer{Ptr: args[i], Size: uint64(n)}, want); err != nil {
			return err
		}
		if dt.IsFloat() && RelErr(g, w) > c.tolerance(st.Kernel, dt.String()) && len(st.InPlace) == 0 {
			over = append(over, i)
			cands[i] = g
		}
	}
	if len(over) > 0 && fn != nil {
		e, err := c.scaleErr(fn, st, grid, refArgs, over, cands)
		if err != nil {
			return fmt.Errorf("magnitude reference: %w", err)
		}
		if kc.ScaleErr == math.Inf(1) || e > kc.ScaleErr {
			kc.ScaleErr = e
		}
	}
	return nil
}

func (c *CompareBackend) tolerance(kernel, dtype string) float64 {
	if kc := c.Results[kernel]; kc != nil && kc.Precision != "" {
		dtype = kc.Precision
	}
	if c.Tolerance != nil {
		return c.Tolerance(kernel, dtype)
	}
	return Tolerance(dtype, false)
}

// precisionRank orders float dtypes from the least precise.
var precisionRank = map[ir.DType]int{ir.F8E5M2: 0, ir.F8E4M3: 1, ir.BF16: 2, ir.F16: 3, ir.F32: 4}

// regionPrecision is the least precise float dtype among the results of
// step st's region of fn ("" when it has none).
func regionPrecision(fn *ir.Func, st *program.Step) string {
	best, rank := "", 99
	if fn == nil {
		return ""
	}
	for _, op := range fn.Body {
		if id, ok := op.Attrs.Int("kernel"); !ok || int(id) != st.Region {
			continue
		}
		for _, r := range op.Results {
			if k, ok := precisionRank[r.Type.DType]; ok && k < rank {
				best, rank = r.Type.DType.String(), k
			}
		}
	}
	return best
}

// Passed says whether the kernel met tol: no error, no integer mismatch,
// and its float outputs within tol, relative to their norm or, for a
// linear kernel, to the scale of their terms.
func (kc *KernelCheck) Passed(tol float64) bool {
	return kc.Err == "" && kc.Mismatch == 0 && (kc.RelErr <= tol || kc.ScaleErr <= tol)
}

// scaleErr runs the reference once more on the magnitudes of the step's
// float inputs, when every op of the region is linear, and returns the
// largest ‖cand − ref‖ / ‖ref(|inputs|)‖ over the outputs in over (+Inf
// when the region is not linear).
func (c *CompareBackend) scaleErr(fn *ir.Func, st *program.Step, grid [3]uint32, refArgs []uint64, over []int, cands map[int]*runtime.Tensor) (float64, error) {
	env := map[string]int64{}
	for i, s := range st.Symbols {
		env[s] = int64(refArgs[len(st.Args)+i])
	}
	rf, _, _, err := c.regions.Func(fn, st, env)
	if err != nil {
		return 0, err
	}
	for _, op := range rf.Body {
		if d := op.Def(); d == nil || !d.Linear {
			return math.Inf(1), nil
		}
	}
	absArgs := append([]uint64(nil), refArgs...)
	var temps []Buffer
	defer func() {
		for _, b := range temps {
			c.Ref.Free(b)
		}
	}()
	for i, a := range st.Args {
		if a.Scratch {
			return math.Inf(1), nil
		}
		dt, shape, err := ArgType(a, st, env)
		if err != nil {
			return 0, err
		}
		n := numel(shape) * int(dt.Bytes())
		b, err := c.Ref.Alloc(uint64(n))
		if err != nil {
			return 0, err
		}
		temps = append(temps, b)
		absArgs[i] = b.Ptr
		if a.Output {
			continue
		}
		data := make([]byte, n)
		if err := c.Ref.Download(data, Buffer{Ptr: refArgs[i], Size: uint64(n)}); err != nil {
			return 0, err
		}
		if dt.IsFloat() {
			t, err := Decode(data, dt, []int{numel(shape)})
			if err != nil {
				return 0, err
			}
			for j := range t.F {
				t.F[j] = float32(math.Abs(float64(t.F[j])))
			}
			if data, err = Encode(t, dt); err != nil {
				return 0, err
			}
		}
		if err := c.Ref.Upload(b, data); err != nil {
			return 0, err
		}
	}
	if err := c.Ref.Launch(fn, st, grid, absArgs); err != nil {
		return 0, err
	}
	worst := 0.0
	for _, i := range over {
		g := cands[i]
		data := make([]byte, len(g.F)*int(g.DType.Bytes()))
		if err := c.Ref.Download(data, Buffer{Ptr: absArgs[i], Size: uint64(len(data))}); err != nil {
			return 0, err
		}
		mag, err := Decode(data, g.DType, []int{len(g.F)})
		if err != nil {
			return 0, err
		}
		ref := make([]byte, len(data))
		if err := c.Ref.Download(ref, Buffer{Ptr: refArgs[i], Size: uint64(len(ref))}); err != nil {
			return 0, err
		}
		w, err := Decode(ref, g.DType, []int{len(g.F)})
		if err != nil {
			return 0, err
		}
		var num, den float64
		for j := range w.F {
			d := float64(g.F[j]) - float64(w.F[j])
			num += d * d
			den += float64(mag.F[j]) * float64(mag.F[j])
		}
		e := math.Inf(1)
		if den > 0 && !math.IsNaN(num) {
			e = math.Sqrt(num / den)
		}
		worst = max(worst, e)
	}
	return worst, nil
}

// ArgType is a step argument's dtype and shape under env (a scale grid
// from the tensor it scales).
func ArgType(a program.Arg, st *program.Step, env map[string]int64) (ir.DType, []int, error) {
	dt, ok := ir.ParseDType(a.DType)
	if !ok {
		return dt, nil, fmt.Errorf("argument %s: dtype %q", a.Value, a.DType)
	}
	of := a
	if a.ScaleOf != "" {
		found := false
		for _, b := range st.Args {
			if b.Value == a.ScaleOf && b.ScaleOf == "" {
				of, found = b, true
			}
		}
		if !found || len(a.Block) != 2 {
			return dt, nil, fmt.Errorf("scales %s: %s is not an argument of the step", a.Value, a.ScaleOf)
		}
	}
	shape := make([]int, len(of.Shape))
	for i, d := range of.Shape {
		dd, err := program.ParseDim(d)
		if err != nil {
			return dt, nil, err
		}
		v, ok := dd.Eval(env)
		if !ok || v < 0 || v > 1<<40 {
			return dt, nil, fmt.Errorf("argument %s: dim %s unbound or out of range", a.Value, d)
		}
		shape[i] = int(v)
	}
	if a.ScaleOf != "" {
		shape = runtime.ScaleGrid(shape, [2]int{int(a.Block[0]), int(a.Block[1])})
	}
	return dt, shape, nil
}

// RelErr is ‖a − b‖/‖b‖ in float64 (+Inf when a has a NaN or Inf where b
// is finite; 0 when both are zero).
func RelErr(a, b *runtime.Tensor) float64 {
	var num, den float64
	for i := range b.F {
		x, y := float64(a.F[i]), float64(b.F[i])
		if math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return math.Inf(1)
		}
		num += (x - y) * (x - y)
		den += y * y
	}
	if den == 0 {
		if num == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Sqrt(num / den)
}

// Tolerance is the relative error allowed for a kernel's float output by
// dtype (docs/design.md §6), looser for GEMMs whose operands are fp8.
func Tolerance(dtype string, fp8 bool) float64 {
	switch {
	case fp8:
		return 3e-2
	case dtype == "f32":
		return 1e-5
	case dtype == "f8e4m3" || dtype == "f8e5m2":
		return 7e-2
	}
	return 1e-2 // bf16, f16
}
