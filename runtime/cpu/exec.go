package cpu

import (
	"fmt"
	"math"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Options configure a run.
type Options struct {
	Mode Mode
	// Workers is the number of goroutines kernels split their work over;
	// 0 or less means runtime.NumCPU().
	Workers int
	// Donate lets an op overwrite an argument tensor whose last use it is
	// (kv_write then updates a cache argument in place instead of copying
	// it). Without it, arguments are never written.
	Donate bool
	// Stats, when set, receives figures of the run.
	Stats *RunStats
	// OpTime, when set, receives the wall time spent in each op kind
	// (added to what it holds): where a program's time goes.
	OpTime map[string]time.Duration
	// Wide accumulates GEMMs and attention in f64 in FP32 mode, for
	// checking numerics against a float64 reference more tightly (about
	// 1.5x slower). By default FP32 mode accumulates in f32, as the
	// precision mode says and as PyTorch and the GPU do.
	Wide bool
	// Pool, when set, keeps the storage of intermediates from one run for
	// the next (a trainer runs the same program every step): new results
	// then reuse it instead of allocating zeroed memory.
	Pool *Pool
	// Hot marks a latency-bound run (a decode step): the worker pool keeps
	// spinning while it lasts instead of parking between loops.
	Hot bool
	// Consts, when set, keeps the results of ops computed from params and
	// constants alone (weights reshaped, split, transposed for the absorbed
	// attention, ...) from one run for the next: a decode step then does
	// not redo them. The params must not change while it is in use.
	Consts *Consts
}

// Consts holds what params-only ops computed, per op. Safe for concurrent
// runs.
type Consts struct {
	mu   sync.Mutex
	ops  map[*ir.Op][]*runtime.Tensor
	mode Mode // of the runs that filled it; others do not use it
}

// forMode reports whether runs in mode m may use the cache (the first
// run's mode claims it).
func (k *Consts) forMode(m Mode) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.ops) == 0 {
		k.mode = m
	}
	return k.mode == m
}

// NewConsts returns an empty cache.
func NewConsts() *Consts { return &Consts{ops: map[*ir.Op][]*runtime.Tensor{}} }

func (k *Consts) get(op *ir.Op) ([]*runtime.Tensor, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.ops[op]
	return t, ok
}

func (k *Consts) put(op *ir.Op, ts []*runtime.Tensor) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ops[op] = ts
}

// Pool is storage kept across runs, by length. Kernels overwrite every
// element of their results (poisoned-output tests check it), so recycled
// storage needs no clearing. One run uses a pool at a time.
type Pool struct {
	mu   sync.Mutex
	free map[int][][]float32
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{free: map[int][][]float32{}} }

// take hands the pool's storage to a run.
func (p *Pool) take() map[int][][]float32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.free
	p.free = map[int][][]float32{}
	return f
}

// give returns a run's free storage to the pool.
func (p *Pool) give(f map[int][][]float32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n, l := range f {
		p.free[n] = append(p.free[n], l...)
	}
}

// Put gives t's storage to the pool; t must not be used afterwards.
// Only plain float tensors are kept.
func (p *Pool) Put(t *runtime.Tensor) {
	if t.Scale != nil || t.I != nil || len(t.F) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free[len(t.F)] = append(p.free[len(t.F)], t.F)
}

// RunStats are figures of one Run.
type RunStats struct {
	// PeakLiveBytes is the most bytes held at once by the values the
	// program still needs (arguments and params included).
	PeakLiveBytes int64
}

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return goruntime.NumCPU()
}

// Kernel computes one op. It reads args (block-quantized operands are
// dequantised by the executor before the call, except those listed in
// rawOperands) and returns one tensor per op result, allocated with
// Context.Out (or, for data movement, with the dtype of the data it moves).
// Float results are rounded to their dtype by the executor afterwards.
type Kernel func(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error)

// Context is what a kernel sees of the run: the mode, the worker count, the
// bound symbols and the current op's result shapes.
type Context struct {
	mode    Mode
	workers int
	donate  bool
	wideAcc bool // Options.Wide
	env     map[string]int64
	poison  bool // tests: fill fresh results with NaN (floats) or a sentinel (ints)

	params map[string]*runtime.Tensor
	bound  map[string]*runtime.Tensor // params checked (and converted) in this run

	op     *ir.Op
	shapes [][]int           // result shapes of the current op, symbols bound
	reuse  []bool            // per operand of the current op: the kernel may overwrite it
	views  []*runtime.Tensor // the current op's results made by view: not rounded again

	deferT map[*ir.Op]bool                     // transposes the GEMMs read in place (transposed.go)
	lazyT  map[*runtime.Tensor]*runtime.Tensor // their results: view -> source

	// Both maps are keyed by storage (storeOf), so a whole-tensor view
	// (reshape, an identity cast) counts as one more holder of its
	// source's storage rather than a second tensor.
	//
	// pinned storage is never overwritten or recycled: params and
	// arguments (unless donated).
	pinned map[any]bool
	kept   map[any]bool // storage of results kept in Options.Consts (pinned too)

	// refs counts the live values holding each storage; float storage no
	// live value holds (and not pinned) goes to free, from which later
	// results of the same size are allocated (unzeroed: every kernel writes
	// all of its results, which the poisoned test runs check).
	refs map[any]int
	free map[int][][]float32
}

// storeOf identifies t's storage: its first element (tensors that share
// storage from the same element on are one store), or t when empty.
func storeOf(t *runtime.Tensor) any {
	switch {
	case len(t.F) > 0:
		return &t.F[0]
	case len(t.I) > 0:
		return &t.I[0]
	}
	return t
}

// view returns a tensor of dtype dt and the current op's result shape i
// sharing x's whole storage: it costs nothing, and the storage is
// recycled once neither x nor the view is live.
func (c *Context) view(x *runtime.Tensor, i int, dt ir.DType) *runtime.Tensor {
	t := &runtime.Tensor{DType: dt, Shape: slices.Clone(c.shapes[i]), F: x.F, I: x.I}
	c.views = append(c.views, t)
	return t
}

// Mode is the precision mode of the run.
func (c *Context) Mode() Mode { return c.mode }

// Workers is the number of goroutines a kernel may use.
func (c *Context) Workers() int { return c.workers }

// Sym returns the value bound to a symbolic dim.
func (c *Context) Sym(name string) (int64, bool) {
	v, ok := c.env[name]
	return v, ok
}

// ResultShape is the shape of the current op's result i.
func (c *Context) ResultShape(i int) []int { return c.shapes[i] }

// CanReuse reports whether operand i of the current op may be overwritten
// and returned as a result: the op is its last use and nothing else shares
// its storage.
func (c *Context) CanReuse(i int) bool { return i < len(c.reuse) && c.reuse[i] }

// Out allocates the current op's result i with its shape and the dtype the
// mode stores its IR dtype in.
func (c *Context) Out(i int) *runtime.Tensor {
	return c.OutType(i, c.mode.Storage(c.op.Results[i].Type.DType))
}

// drop forgets a dead value, recycling its storage when nothing else
// holds it.
func (c *Context) drop(vals map[*ir.Value]*runtime.Tensor, v *ir.Value) {
	t, ok := vals[v]
	if !ok {
		return
	}
	delete(vals, v)
	if c.refs == nil {
		return
	}
	k := storeOf(t)
	if c.refs[k]--; c.refs[k] > 0 {
		return
	}
	delete(c.refs, k)
	if !c.pinned[k] && t.Scale == nil && t.I == nil && len(t.F) > 0 {
		c.free[len(t.F)] = append(c.free[len(t.F)], t.F)
	}
}

// OutType allocates the current op's result i with dtype dt.
func (c *Context) OutType(i int, dt ir.DType) *runtime.Tensor {
	if dt.IsFloat() {
		n := 1
		for _, d := range c.shapes[i] {
			n *= d
		}
		if l := c.free[n]; len(l) > 0 {
			c.free[n] = l[:len(l)-1]
			t := &runtime.Tensor{DType: dt, Shape: slices.Clone(c.shapes[i]), F: l[len(l)-1]}
			if c.poison {
				poison(t)
			}
			return t
		}
	}
	t := runtime.NewTensor(dt, c.shapes[i]...)
	if c.poison {
		poison(t)
	}
	return t
}

// stepHook, when set (tests), is called after every op with the number of
// live values.
var stepHook func(op, live int)

const intPoison = -0x5a5a5a5a5a5a5a5b

func poison(t *runtime.Tensor) {
	nan := float32(math.NaN())
	for i := range t.F {
		t.F[i] = nan
	}
	for i := range t.I {
		t.I[i] = intPoison
	}
}

// Run executes f: it binds the symbolic dims of f's arguments from args,
// reads params by name (the param op's "name" attribute), runs the op
// kernels in order, drops every intermediate after its last use, and
// returns f's results. Results may share storage with params (a function
// that returns a param returns the param's tensor).
//
// A float param or argument may be given in any float dtype (a checkpoint
// in f32 runs a model declared bf16): in FP32 mode its values are used as
// they are; in BF16 and FP8 modes they are rounded to the declared dtype
// (a param declared f8 but given without block scales is rounded to bf16).
// Integer params and arguments may be i32 or i64 where either is declared.
func Run(f *ir.Func, params map[string]*runtime.Tensor, args []*runtime.Tensor, opts Options) ([]*runtime.Tensor, error) {
	return run(f, params, args, opts, false)
}

func run(f *ir.Func, params map[string]*runtime.Tensor, args []*runtime.Tensor, opts Options, poisoned bool) ([]*runtime.Tensor, error) {
	if opts.Mode < FP32 || opts.Mode > FP8 {
		return nil, fmt.Errorf("cpu: invalid precision mode %d", int(opts.Mode))
	}
	// The CPU has kernels for the built-in ops; a composite runs its
	// decomposition.
	orig := f
	f, err := ir.Expanded(f)
	if err != nil {
		return nil, err
	}
	// Kept results are keyed by op: an expanded function is a fresh copy
	// on every run, whose ops would never match (and would pile up).
	consts := opts.Consts
	if consts != nil && (f != orig || !consts.forMode(opts.Mode)) {
		consts = nil
	}
	c := &Context{
		mode: opts.Mode, workers: opts.workers(), donate: opts.Donate, wideAcc: opts.Wide, env: map[string]int64{},
		poison: poisoned, params: params, bound: map[string]*runtime.Tensor{},
		pinned: map[any]bool{}, kept: map[any]bool{},
		refs: map[any]int{}, free: map[int][][]float32{},
	}
	if opts.Hot {
		hotRuns.Add(1)
		defer hotRuns.Add(-1)
	}
	if opts.Pool != nil {
		c.free = opts.Pool.take()
		defer func() { opts.Pool.give(c.free) }()
	}
	vals := make(map[*ir.Value]*runtime.Tensor, len(f.Args)+len(f.Body))
	if err := c.bindArgs(f, args, vals); err != nil {
		return nil, fmt.Errorf("func @%s: %w", f.Name, err)
	}
	if err := checkRunMemory(f, c.env); err != nil {
		return nil, err
	}
	uses := f.Uses()
	c.deferT = deferredTransposes(f, uses)
	var constant map[*ir.Value]bool // values computed from params and constants alone
	if consts != nil {
		constant = map[*ir.Value]bool{}
	}
	for i, op := range f.Body {
		var t0 time.Time
		if opts.OpTime != nil {
			t0 = time.Now()
		}
		cached := false
		if constant != nil {
			var err error
			if cached, err = c.constStep(consts, op, constant, vals, uses); err != nil {
				return nil, fmt.Errorf("func @%s: op %d (%s at %s): %w", f.Name, i, op.Name, op.Loc, err)
			}
		}
		if !cached {
			if err := c.step(op, vals, uses); err != nil {
				return nil, fmt.Errorf("func @%s: op %d (%s at %s): %w", f.Name, i, op.Name, op.Loc, err)
			}
			if constant != nil && constant[op.Results[0]] && !op.Is(ir.OpParam) && !op.Is(ir.OpConst) && !c.deferT[op] &&
				!slices.ContainsFunc(op.Results, func(r *ir.Value) bool { return slices.Contains(f.Results, r) }) {
				c.keepConst(consts, op, vals) // not a result: the caller owns those
			}
		}
		if opts.OpTime != nil {
			opts.OpTime[op.Name] += time.Since(t0)
		}
		if stepHook != nil {
			stepHook(i, len(vals))
		}
		if opts.Stats != nil {
			seen := map[*runtime.Tensor]bool{}
			var live int64
			for _, t := range vals {
				if !seen[t] {
					seen[t] = true
					live += int64(len(t.F))*4 + int64(len(t.I))*8
				}
			}
			opts.Stats.PeakLiveBytes = max(opts.Stats.PeakLiveBytes, live)
		}
	}
	out := make([]*runtime.Tensor, len(f.Results))
	for i, r := range f.Results {
		t, ok := vals[r]
		if !ok {
			return nil, fmt.Errorf("func @%s: result %d is not defined", f.Name, i)
		}
		if c.kept[storeOf(t)] { // a view of a kept result: the caller gets its own
			t = &runtime.Tensor{DType: t.DType, Shape: slices.Clone(t.Shape), F: slices.Clone(t.F), I: slices.Clone(t.I)}
		}
		out[i] = t
	}
	return out, nil
}

// constStep marks op's results constant when op is a param, a constant,
// or an op over constant values only, and for such an op computed in an
// earlier run binds the kept results instead of computing (true).
func (c *Context) constStep(k *Consts, op *ir.Op, constant map[*ir.Value]bool, vals map[*ir.Value]*runtime.Tensor, uses map[*ir.Value]int) (bool, error) {
	isConst := op.Is(ir.OpParam) || op.Is(ir.OpConst)
	if !isConst && len(op.Args) > 0 && len(op.Results) > 0 {
		isConst = true
		for _, a := range op.Args {
			isConst = isConst && constant[a]
		}
	}
	if !isConst {
		return false, nil
	}
	for _, r := range op.Results {
		constant[r] = true
	}
	if op.Is(ir.OpParam) || op.Is(ir.OpConst) || c.deferT[op] {
		return false, nil
	}
	ts, ok := k.get(op)
	if !ok {
		return false, nil
	}
	for i, r := range op.Results { // a symbolic shape may bind otherwise in this run
		shape, err := c.evalShape(r.Type.Shape)
		if err != nil || !slices.Equal(shape, ts[i].Shape) {
			return false, nil
		}
	}
	for _, a := range op.Args {
		if _, ok := vals[a]; !ok {
			return false, fmt.Errorf("operand is not defined (or was freed)")
		}
	}
	for i, r := range op.Results {
		c.pinned[storeOf(ts[i])] = true
		c.kept[storeOf(ts[i])] = true
		vals[r] = ts[i]
		c.refs[storeOf(ts[i])]++
	}
	for _, a := range op.Args {
		if uses[a]--; uses[a] <= 0 {
			c.drop(vals, a)
		}
	}
	for _, r := range op.Results {
		if uses[r] <= 0 {
			c.drop(vals, r)
		}
	}
	return true, nil
}

// keepConst keeps a constant op's results for later runs; they are pinned
// from now on, so that no later op overwrites or recycles them.
func (c *Context) keepConst(k *Consts, op *ir.Op, vals map[*ir.Value]*runtime.Tensor) {
	ts := make([]*runtime.Tensor, len(op.Results))
	for i, r := range op.Results {
		t, ok := vals[r]
		if !ok {
			return // unused, already dropped: nothing to keep
		}
		ts[i] = t
	}
	for _, t := range ts {
		c.pinned[storeOf(t)] = true
		c.kept[storeOf(t)] = true
	}
	k.put(op, ts)
}

// bindArgs checks the arguments against f's signature, binds symbols and
// stores the (converted) argument tensors.
func (c *Context) bindArgs(f *ir.Func, args []*runtime.Tensor, vals map[*ir.Value]*runtime.Tensor) error {
	if len(args) != len(f.Args) {
		return fmt.Errorf("takes %d arguments, got %d", len(f.Args), len(args))
	}
	boundBy := map[string]string{}
	for i, a := range f.Args {
		t := args[i]
		name := "%" + a.Name
		if t == nil {
			return fmt.Errorf("argument %s is nil", name)
		}
		if err := t.Check(); err != nil {
			return fmt.Errorf("argument %s: %v", name, err)
		}
		if len(t.Shape) != len(a.Type.Shape) {
			return fmt.Errorf("argument %s has shape %v, want rank %d (%s)", name, t.Shape, len(a.Type.Shape), a.Type.Shape)
		}
		for j, d := range a.Type.Shape {
			n := int64(t.Shape[j])
			switch {
			case !d.IsSym():
				if n != d.N {
					return fmt.Errorf("argument %s has shape %v: dim %d is %d, want %d", name, t.Shape, j, n, d.N)
				}
			case boundBy[d.Sym] == "":
				c.env[d.Sym] = n
				boundBy[d.Sym] = name
			case c.env[d.Sym] != n:
				return fmt.Errorf("argument %s has shape %v: dim %d (%s) is %d, but %s = %d from argument %s",
					name, t.Shape, j, d.Sym, n, d.Sym, c.env[d.Sym], boundBy[d.Sym])
			}
		}
		ct, err := c.convert(t, a.Type.DType, false)
		if err != nil {
			return fmt.Errorf("argument %s: %v", name, err)
		}
		if !c.donate || ct != t {
			c.pinned[storeOf(t)] = true
		}
		if slices.Contains(args[:i], t) { // the same tensor twice: never written
			c.pinned[storeOf(t)] = true
		}
		vals[a] = ct
		c.refs[storeOf(ct)]++
	}
	return nil
}

// convert checks that t can stand for a value of IR dtype want and returns
// it converted as the mode requires (see Run).
func (c *Context) convert(t *runtime.Tensor, want ir.DType, isParam bool) (*runtime.Tensor, error) {
	switch {
	case want.IsFloat():
		if !t.DType.IsFloat() {
			return nil, fmt.Errorf("dtype %s, want %s (a float dtype)", t.DType, want)
		}
		if t.Scale != nil {
			if err := checkScale(t); err != nil {
				return nil, err
			}
			return t, nil
		}
		if c.mode == FP32 {
			return t, nil
		}
		target := want
		if isParam && (want == ir.F8E4M3 || want == ir.F8E5M2) {
			target = ir.BF16
		}
		if subset(t.DType, target) {
			return t, nil
		}
		r := &runtime.Tensor{DType: target, Shape: slices.Clone(t.Shape), F: slices.Clone(t.F)}
		runtime.RoundSlice(target, r.F)
		return r, nil
	case want.IsInt():
		if !t.DType.IsInt() {
			return nil, fmt.Errorf("dtype %s, want %s", t.DType, want)
		}
		if t.DType == want {
			return t, nil
		}
		if want == ir.I32 {
			for i, v := range t.I {
				if v != int64(int32(v)) {
					return nil, fmt.Errorf("element %d = %d does not fit %s", i, v, want)
				}
			}
		}
		return &runtime.Tensor{DType: want, Shape: slices.Clone(t.Shape), I: slices.Clone(t.I)}, nil
	default:
		if t.DType != want {
			return nil, fmt.Errorf("dtype %s, want %s", t.DType, want)
		}
		return t, nil
	}
}

// checkScale validates a block-quantized tensor's scales.
func checkScale(t *runtime.Tensor) error {
	s := t.Scale
	r := len(t.Shape)
	b0, b1 := t.Block[0], t.Block[1]
	if r < 2 || b0 <= 0 || b1 <= 0 {
		return fmt.Errorf("block-quantized tensor of shape %v has block %v; want rank >= 2 and positive blocks", t.Shape, t.Block)
	}
	want := slices.Clone(t.Shape)
	want[r-2] = ceilDiv(t.Shape[r-2], b0)
	want[r-1] = ceilDiv(t.Shape[r-1], b1)
	if !s.DType.IsFloat() || !slices.Equal(s.Shape, want) || len(s.F) != s.Numel() {
		return fmt.Errorf("scales are %s %v, want f32 %v for blocks of %dx%d", s.DType, s.Shape, want, b0, b1)
	}
	return nil
}

// PrepareParams checks params against m's declarations and converts them
// once the way Run would convert them on every call under mode (rounding
// float params given in a wider dtype than declared, in BF16 and FP8
// modes), so that repeated runs (a decode loop) do not pay for it. Params
// that m does not declare are passed through; declared params missing from
// params are left for Run to report.
func PrepareParams(m *ir.Module, params map[string]*runtime.Tensor, mode Mode) (map[string]*runtime.Tensor, error) {
	c := &Context{mode: mode, workers: Options{}.workers(), env: map[string]int64{}, pinned: map[any]bool{}}
	out := make(map[string]*runtime.Tensor, len(params))
	for k, v := range params {
		out[k] = v
	}
	for _, p := range m.Params {
		t, ok := params[p.Name]
		if !ok || t == nil {
			continue
		}
		c.params, c.bound = params, map[string]*runtime.Tensor{}
		ct, err := c.param(p.Name, p.Type)
		if err != nil {
			return nil, err
		}
		out[p.Name] = ct
	}
	return out, nil
}

// DequantizeParams returns params with every block-quantized tensor
// dequantised the way the kernels dequantise it on each use under mode,
// except in FP8 mode, whose GEMMs read weights quantized. A decode loop
// then dequantises each weight once instead of on every step (and small
// batches reach the gemv kernels, which take plain weights), for the cost
// of holding the weights in f32.
func DequantizeParams(params map[string]*runtime.Tensor, mode Mode) map[string]*runtime.Tensor {
	if mode == FP8 {
		return params
	}
	c := &Context{mode: mode, workers: Options{}.workers()}
	out := make(map[string]*runtime.Tensor, len(params))
	for k, t := range params {
		if t.Scale != nil {
			t = dequantize(t, mode.dequantDType(), c)
		}
		out[k] = t
	}
	return out
}

// param binds module parameter name for a param op with result type want.
func (c *Context) param(name string, want ir.Type) (*runtime.Tensor, error) {
	if t, ok := c.bound[name]; ok {
		return t, nil
	}
	t, ok := c.params[name]
	if !ok || t == nil {
		return nil, fmt.Errorf("param @%s is missing", name)
	}
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("param @%s: %v", name, err)
	}
	shape, err := c.evalShape(want.Shape)
	if err != nil {
		return nil, fmt.Errorf("param @%s: %v", name, err)
	}
	if !slices.Equal(shape, t.Shape) {
		return nil, fmt.Errorf("param @%s has shape %v, want %v", name, t.Shape, shape)
	}
	ct, err := c.convert(t, want.DType, true)
	if err != nil {
		return nil, fmt.Errorf("param @%s: %v", name, err)
	}
	c.pinned[storeOf(t)] = true
	c.pinned[storeOf(ct)] = true
	c.bound[name] = ct
	return ct, nil
}

func (c *Context) evalShape(s ir.Shape) ([]int, error) {
	out := make([]int, len(s))
	for i, d := range s {
		n, ok := d.Eval(c.env)
		if !ok {
			return nil, fmt.Errorf("symbol %s is not bound by the arguments", d.Sym)
		}
		out[i] = int(n)
	}
	return out, nil
}

// step runs one op.
func (c *Context) step(op *ir.Op, vals map[*ir.Value]*runtime.Tensor, uses map[*ir.Value]int) error {
	def := op.Def()
	kern := kernels[def]
	if kern == nil {
		return fmt.Errorf("no CPU kernel for op %s", op.Name)
	}
	if def == nil {
		return fmt.Errorf("unknown op %s", op.Name)
	}
	c.op = op
	c.shapes = c.shapes[:0]
	c.views = c.views[:0]
	for i, r := range op.Results {
		s, err := c.evalShape(r.Type.Shape)
		if err != nil {
			return fmt.Errorf("result %d: %v", i, err)
		}
		c.shapes = append(c.shapes, s)
	}
	args := make([]*runtime.Tensor, len(op.Args))
	c.reuse = c.reuse[:0]
	for i, a := range op.Args {
		t, ok := vals[a]
		if !ok {
			return fmt.Errorf("operand %d is not defined (or was freed)", i)
		}
		if t.Scale != nil && !slices.Contains(rawOperands[def], i) {
			t = dequantize(t, c.mode.dequantDType(), c)
		}
		args[i] = t
		n := 0
		for _, b := range op.Args {
			if b == a {
				n++
			}
		}
		k := storeOf(t)
		c.reuse = append(c.reuse, n == 1 && uses[a] == 1 && !c.pinned[k] && c.refs[k] == 1)
	}
	var outs []*runtime.Tensor
	var err error
	if v := c.deferred(op, args); v != nil {
		outs = one(v)
	} else {
		outs, err = c.call(kern, op, args)
	}
	if err != nil {
		return err
	}
	if len(outs) != len(op.Results) {
		return fmt.Errorf("kernel returned %d results, want %d", len(outs), len(op.Results))
	}
	round := def != ir.OpParam && def.Kind != ir.Injective
	for i, t := range outs {
		want := op.Results[i].Type.DType
		switch {
		case t == nil:
			return fmt.Errorf("kernel returned no result %d", i)
		case !slices.Equal(t.Shape, c.shapes[i]):
			return fmt.Errorf("kernel returned result %d of shape %v, want %v", i, t.Shape, c.shapes[i])
		case want.IsFloat() != t.DType.IsFloat() || !want.IsFloat() && t.DType != want:
			return fmt.Errorf("kernel returned result %d of dtype %s, want %s", i, t.DType, want)
		}
		if round && !slices.Contains(c.views, t) {
			c.finish(t)
		}
		vals[op.Results[i]] = t
		c.refs[storeOf(t)]++
	}
	for _, a := range op.Args {
		uses[a]--
		if uses[a] <= 0 {
			c.drop(vals, a)
		}
	}
	for _, r := range op.Results {
		if uses[r] <= 0 {
			c.drop(vals, r)
		}
	}
	return nil
}

// call runs a kernel, turning a panic into an error.
func (c *Context) call(k Kernel, op *ir.Op, args []*runtime.Tensor) (outs []*runtime.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			outs, err = nil, fmt.Errorf("kernel panic: %v\n%s", r, debug.Stack())
		}
	}()
	return k(c, op, args)
}

// finish rounds a computed result to its dtype: floats to nearest even,
// i32 wrapped to 32 bits, bools to 0/1.
func (c *Context) finish(t *runtime.Tensor) {
	switch {
	case t.DType.IsFloat() && t.DType != ir.F32:
		c.parallel(len(t.F), 1<<14, func(lo, hi int) { roundSlice(t.DType, t.F[lo:hi]) })
	case t.DType == ir.I32:
		for i, v := range t.I {
			t.I[i] = int64(int32(v))
		}
	case t.DType == ir.Bool:
		for i, v := range t.I {
			if v != 0 {
				t.I[i] = 1
			}
		}
	}
}

// roundBF16Vec, when set (arith_amd64.go), rounds the longest multiple
// of 8 of xs to bf16 in place, bit for bit as runtime.RoundBF16, and
// returns how many it did.
var roundBF16Vec func(xs []float32) int

// roundSlice is runtime.RoundSlice with bf16 eight lanes at a time where
// the CPU can.
func roundSlice(dt ir.DType, xs []float32) {
	if dt == ir.BF16 && roundBF16Vec != nil {
		xs = xs[roundBF16Vec(xs):]
	}
	runtime.RoundSlice(dt, xs)
}

// dequantize returns the real values of a block-quantized tensor (fp8 ×
// the scale of its block), rounded to dt.
func dequantize(t *runtime.Tensor, dt ir.DType, c *Context) *runtime.Tensor {
	out := runtime.NewTensor(dt, t.Shape...)
	r := len(t.Shape)
	rows, cols := t.Shape[r-2], t.Shape[r-1]
	b0, b1 := t.Block[0], t.Block[1]
	sr, sc := ceilDiv(rows, b0), ceilDiv(cols, b1)
	mats := t.Numel() / max(rows*cols, 1)
	workers := 1
	if c != nil {
		workers = c.workers
	}
	parallelFor(workers, mats*rows, 64, func(lo, hi int) {
		for mr := lo; mr < hi; mr++ {
			m, i := mr/rows, mr%rows
			src := t.F[mr*cols : (mr+1)*cols]
			dst := out.F[mr*cols : (mr+1)*cols]
			srow := t.Scale.F[(m*sr+i/b0)*sc:]
			for j, v := range src {
				dst[j] = runtime.RoundTo(dt, v*srow[j/b1])
			}
		}
	})
	return out
}

// Dequantize returns the values of a block-quantized tensor (fp8 × the
// scale of its block) as an f32 tensor; a tensor without scales is
// returned as it is.
func Dequantize(t *runtime.Tensor) (*runtime.Tensor, error) {
	if t.Scale == nil {
		return t, nil
	}
	if err := checkScale(t); err != nil {
		return nil, err
	}
	return dequantize(t, ir.F32, nil), nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
