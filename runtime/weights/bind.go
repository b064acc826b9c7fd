package weights

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// ExpertPlaceholder in a param name marks a param stacked along axis 0 from
// per-expert checkpoint tensors: "x.experts.{e}.w" binds x.experts.0.w,
// x.experts.1.w, ... (as many as the param's first dim).
const ExpertPlaceholder = "{e}"

// DefaultBlock is the weight quantization block of DeepSeek-V3's FP8
// checkpoints, used for an fp8 tensor with scales whose param has no quant
// attribute.
var DefaultBlock = [2]int{128, 128}

// ExpertName is the checkpoint name of expert e of a stacked param.
func ExpertName(param string, e int) string {
	return strings.ReplaceAll(param, ExpertPlaceholder, strconv.Itoa(e))
}

// ScaleName is the name of the f32 block-scale tensor of an FP8 weight:
// "x.weight" → "x.weight_scale_inv" (real value = fp8 value · scale_inv).
func ScaleName(weight string) string { return weight + "_scale_inv" }

// ScaleGrid is the shape of the block-scale grid of a weight: leading dims
// unchanged, the last two divided by the block, rounded up (edge blocks
// are partial).
func ScaleGrid(shape []int, block [2]int) []int { return runtime.ScaleGrid(shape, block) }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// ProblemKind classifies a mismatch between a module and a checkpoint.
type ProblemKind int

const (
	Missing      ProblemKind = iota + 1 // a param's tensor is not in the checkpoint
	Unexpected                          // a checkpoint tensor no param uses
	WrongShape                          // tensor shape differs from the param's
	WrongDType                          // tensor dtype cannot bind to the param
	MissingScale                        // an FP8 tensor of a quantized param has no weight_scale_inv
	WrongScale                          // the scale grid has the wrong shape or dtype
	Unbindable                          // the param itself cannot come from a checkpoint
	NotFinite                           // the tensor's data holds NaN or Inf (ScanData)
)

var kindNames = map[ProblemKind]string{
	Missing: "missing", Unexpected: "unexpected", WrongShape: "wrong shape",
	WrongDType: "wrong dtype", MissingScale: "missing scale", WrongScale: "wrong scale",
	Unbindable: "unbindable", NotFinite: "not finite",
}

func (k ProblemKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("problem(%d)", int(k))
}

// MarshalText writes the kind's name (so a Report marshals to readable JSON).
func (k ProblemKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Problem is one mismatch; Tensor is the checkpoint tensor it is about
// (for Unbindable, the param name).
type Problem struct {
	Kind   ProblemKind
	Param  string // module param ("" for Unexpected)
	Tensor string
	Detail string
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s: %s", strconv.Quote(p.Tensor), p.Kind)
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	if p.Param != "" && p.Param != p.Tensor {
		s += " (param " + p.Param + ")"
	}
	return s
}

// ErrMismatch is wrapped by every *MismatchError.
var ErrMismatch = errors.New("checkpoint does not match the module")

// MismatchError lists the problems that stop a load (or fail an inspection).
type MismatchError struct {
	Path, Module string
	Problems     []Problem
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "checkpoint %s does not match module %s: %d problem", e.Path, e.Module, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteByte('s')
	}
	const show = 10
	for i, p := range e.Problems {
		if i == show {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Problems)-show)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

func (e *MismatchError) Unwrap() error { return ErrMismatch }

// Binding says where a param's value comes from and what it becomes.
//
// The loaded tensor's DType:
//   - a param with a float dtype other than f8e4m3 gets that dtype: wider
//     checkpoint data (F32 for a bf16 param) is rounded to nearest even,
//     narrower data widens exactly; with ExactValues, data the param's
//     dtype cannot hold keeps its own dtype instead. FP8 data cannot bind
//     to it.
//   - an f8e4m3 param bound from F8_E4M3 data with a weight_scale_inv
//     sibling is block-quantized: DType f8e4m3, F the fp8 values, Scale the
//     grid (stacked experts: [E, rows/bh, cols/bw]), Block the block.
//   - an f8e4m3 param bound from F8_E4M3 data without scales (allowed only
//     when the param has no quant attribute) is f8e4m3 with no Scale.
//   - an f8e4m3 param bound from F32, BF16 or F16 data keeps the
//     checkpoint's dtype and exact values, unquantized: a bf16 checkpoint
//     of an fp8 model is not quantized behind the caller's back; the
//     runtime decides (dequantised compute, or quantize on the fly in fp8
//     mode). Check Tensor.DType and Tensor.Scale, not the param's dtype.
type Binding struct {
	Param     string
	Shape     []int    // the param's shape
	Tensors   []string // checkpoint tensors: one, or one per expert
	Scales    []string // their weight_scale_inv tensors when Quantized
	Source    string   // checkpoint dtype of Tensors
	DType     ir.DType // dtype of the loaded tensor
	Quantized bool
	Block     [2]int // when Quantized
	Bytes     int64  // checkpoint bytes the binding reads
}

// Stacked reports whether the param is stacked from per-expert tensors.
func (b *Binding) Stacked() bool { return strings.Contains(b.Param, ExpertPlaceholder) }

// Option configures Load and Inspect.
type Option func(*options)

type options struct {
	exact      bool
	progress   func(Progress)
	unexpected func([]string)
	ignore     func(string) bool
	workers    int
	scan       bool
	scanned    func(done, total int64)
}

// ScanValues makes Inspect read every tensor's data too and report NaN
// and Inf (Checkpoint.ScanData); progress, if not nil, follows it.
func ScanValues(progress func(done, total int64)) Option {
	return func(o *options) { o.scan, o.scanned = true, progress }
}

// Progress reports a long load: called after each param is loaded (never
// concurrently), Done counting up to Total.
type Progress struct {
	Param            string
	Done, Total      int
	Bytes, TotalSize int64 // checkpoint bytes read so far and in all
}

// WithProgress sets a progress callback for Load.
func WithProgress(fn func(Progress)) Option { return func(o *options) { o.progress = fn } }

// WithUnexpected receives, once, the sorted names of the checkpoint
// tensors that no param uses (Load does not fail on them; Inspect does).
// Not called when there are none.
func WithUnexpected(fn func(names []string)) Option {
	return func(o *options) { o.unexpected = fn }
}

// IgnoreTensors makes checkpoint tensors for which fn is true invisible to
// the unexpected-tensor check (they are still bound when a param names
// them). Example: DeepSeek-V3's MTP layer carries copies of the shared
// embedding and head (model.layers.61.embed_tokens.weight,
// model.layers.61.shared_head.head.weight) that the DSL does not bind.
func IgnoreTensors(fn func(name string) bool) Option { return func(o *options) { o.ignore = fn } }

// ExactValues keeps checkpoint values that the param's dtype cannot hold
// exactly: a bf16 (or f16) param bound from F32 data (or from the other
// 16-bit format) gets the checkpoint's dtype and values instead of being
// rounded to its own dtype. For fp32-mode execution that must match a
// reference computing in the checkpoint's precision. Widening to an f32
// param is exact either way.
func ExactValues() Option { return func(o *options) { o.exact = true } }

// WithWorkers bounds how many params load at once (default GOMAXPROCS).
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

func makeOptions(opts []Option) options {
	o := options{workers: goruntime.GOMAXPROCS(0)}
	for _, f := range opts {
		f(&o)
	}
	if o.workers < 1 {
		o.workers = 1
	}
	return o
}

// Plan binds every param of m to checkpoint tensors without reading any
// tensor data: the bindings of the params that bind, and every problem
// (including Unexpected tensors).
func (c *Checkpoint) Plan(m *ir.Module, opts ...Option) ([]Binding, []Problem) {
	o := makeOptions(opts)
	used := map[string]bool{}
	var bs []Binding
	var probs []Problem
	for _, p := range m.Params {
		b, ps := c.planParam(p, used, o.exact)
		probs = append(probs, ps...)
		if len(ps) == 0 {
			bs = append(bs, b)
		}
	}
	for _, name := range c.Names() {
		if !used[name] && (o.ignore == nil || !o.ignore(name)) {
			info, _ := c.Info(name)
			probs = append(probs, Problem{Kind: Unexpected, Tensor: name, Detail: info.DType + " " + fmtShape(info.Shape)})
		}
	}
	return bs, probs
}

// planParam binds one param, marking the tensors it uses in used.
func (c *Checkpoint) planParam(p *ir.Param, used map[string]bool, exact bool) (Binding, []Problem) {
	b := Binding{Param: p.Name}
	unbindable := func(format string, args ...any) (Binding, []Problem) {
		return b, []Problem{{Kind: Unbindable, Param: p.Name, Tensor: p.Name, Detail: fmt.Sprintf(format, args...)}}
	}
	dt := p.Type.DType
	if !dt.IsFloat() || dt == ir.F8E5M2 {
		return unbindable("param dtype %s cannot come from a checkpoint", dt)
	}
	for _, d := range p.Type.Shape {
		if d.IsSym() {
			return unbindable("param shape %s is not constant", p.Type.Shape)
		}
		b.Shape = append(b.Shape, int(d.N))
	}
	want := b.Shape
	if b.Stacked() {
		if len(b.Shape) == 0 {
			return unbindable("a stacked (%s) param needs an expert axis", ExpertPlaceholder)
		}
		want = b.Shape[1:]
		for e := range b.Shape[0] {
			b.Tensors = append(b.Tensors, ExpertName(p.Name, e))
		}
	} else {
		b.Tensors = []string{p.Name}
	}
	block, hasQuant := DefaultBlock, false
	if q, ok := p.Attrs.Ints("quant"); ok {
		if len(q) != 2 || q[0] <= 0 || q[1] <= 0 {
			return unbindable("quant attribute %v is not two positive block sizes", q)
		}
		if dt != ir.F8E4M3 {
			return unbindable("quant attribute on a %s param (only f8e4m3 weights are block-quantized)", dt)
		}
		if len(want) < 2 {
			return unbindable("quant attribute on a tensor of rank %d (blocks need two axes)", len(want))
		}
		block, hasQuant = [2]int{int(q[0]), int(q[1])}, true
	}
	var probs []Problem
	problem := func(k ProblemKind, tensor, format string, args ...any) {
		probs = append(probs, Problem{Kind: k, Param: p.Name, Tensor: tensor, Detail: fmt.Sprintf(format, args...)})
	}
	first := ""
	for _, name := range b.Tensors {
		info, ok := c.Info(name)
		if !ok {
			problem(Missing, name, "want %s %s", dt, fmtShape(want))
			continue
		}
		used[name] = true
		b.Bytes += info.Size()
		if !slices.Equal(info.Shape, want) {
			problem(WrongShape, name, "shape %s, want %s", fmtShape(info.Shape), fmtShape(want))
		}
		if _, ok := IRDType(info.DType); !ok {
			problem(WrongDType, name, "%s is not supported (want F32, BF16, F16 or F8_E4M3)", info.DType)
			continue
		}
		scale := ScaleName(name)
		sinfo, hasScale := c.Info(scale)
		switch {
		case info.DType == F8E4M3 && dt != ir.F8E4M3:
			problem(WrongDType, name, "F8_E4M3 data for a %s param (only f8e4m3 params take FP8 data)", dt)
			continue
		case info.DType == F8E4M3 && !hasScale && hasQuant:
			problem(MissingScale, name, "no %s for this block-quantized weight", scale)
			continue
		}
		quantized := info.DType == F8E4M3 && hasScale
		if first == "" {
			first = name
			b.Source, b.Quantized = info.DType, quantized
		} else if info.DType != b.Source || quantized != b.Quantized {
			problem(WrongDType, name, "%s, but %s is %s", describe(info.DType, quantized), first, describe(b.Source, b.Quantized))
			continue
		}
		if quantized {
			used[scale] = true
			b.Bytes += sinfo.Size()
			b.Scales = append(b.Scales, scale)
			if _, ok := IRDType(sinfo.DType); !ok || sinfo.DType == F8E4M3 {
				problem(WrongScale, scale, "scale dtype %s, want F32", sinfo.DType)
			}
			if len(want) < 2 {
				problem(WrongScale, scale, "a block scale for a tensor of rank %d (blocks need two axes)", len(want))
			} else if grid := ScaleGrid(want, block); !slices.Equal(sinfo.Shape, grid) {
				problem(WrongScale, scale, "scale grid %s, want %s for %s in %dx%d blocks", fmtShape(sinfo.Shape), fmtShape(grid), fmtShape(want), block[0], block[1])
			}
		}
	}
	if len(probs) > 0 {
		return b, probs
	}
	switch {
	case b.Quantized:
		b.DType, b.Block = ir.F8E4M3, block
	case dt == ir.F8E4M3:
		b.DType, _ = IRDType(b.Source) // unquantized data for an fp8 param keeps its dtype
	case exact && dt != ir.F32:
		b.DType, _ = IRDType(b.Source)
	default:
		b.DType = dt
	}
	return b, nil
}

// fmtShape prints a shape as the IR does: [2, 3].
func fmtShape(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func describe(dtype string, quantized bool) string {
	if quantized {
		return dtype + " with scales"
	}
	return dtype
}

// Load binds every param of m to the checkpoint at dir (see
// OpenCheckpoint) and reads it: a map from param name to tensor. Any
// problem but an unexpected tensor fails the load with a *MismatchError;
// unexpected tensors go to WithUnexpected.
func Load(m *ir.Module, dir string, opts ...Option) (map[string]*runtime.Tensor, error) {
	c, err := OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Load(m, opts...)
}

// Load is Load on an open checkpoint.
func (c *Checkpoint) Load(m *ir.Module, opts ...Option) (map[string]*runtime.Tensor, error) {
	o := makeOptions(opts)
	bs, probs := c.Plan(m, opts...)
	var fatal []Problem
	var extra []string
	for _, p := range probs {
		if p.Kind == Unexpected {
			extra = append(extra, p.Tensor)
		} else {
			fatal = append(fatal, p)
		}
	}
	if len(fatal) > 0 {
		return nil, &MismatchError{Path: c.Path, Module: m.Name, Problems: fatal}
	}
	if len(extra) > 0 && o.unexpected != nil {
		o.unexpected(extra)
	}
	var total int64
	for _, b := range bs {
		total += b.Bytes
	}
	out := make(map[string]*runtime.Tensor, len(bs))
	var (
		mu    sync.Mutex
		done  int
		read  int64
		first error
		wg    sync.WaitGroup
		next  = make(chan int)
	)
	for range min(o.workers, len(bs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t, err := c.read(&bs[i])
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if err == nil {
					out[bs[i].Param] = t
					done++
					read += bs[i].Bytes
					if o.progress != nil {
						o.progress(Progress{Param: bs[i].Param, Done: done, Total: len(bs), Bytes: read, TotalSize: total})
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := range bs {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, nil
}

// LoadParam binds and reads one param (for callers that load lazily, a
// layer at a time).
// Of the options only ExactValues applies.
func (c *Checkpoint) LoadParam(p *ir.Param, opts ...Option) (*runtime.Tensor, error) {
	b, probs := c.planParam(p, map[string]bool{}, makeOptions(opts).exact)
	if len(probs) > 0 {
		return nil, &MismatchError{Path: c.Path, Module: "param " + p.Name, Problems: probs}
	}
	return c.read(&b)
}

// read reads a planned binding.
func (c *Checkpoint) read(b *Binding) (*runtime.Tensor, error) {
	t := &runtime.Tensor{DType: b.DType, Shape: slices.Clone(b.Shape)}
	t.F = make([]float32, t.Numel())
	per := len(t.F) / max(len(b.Tensors), 1)
	for i, name := range b.Tensors {
		f, _ := c.File(name)
		info, _ := f.Info(name)
		dst := t.F[i*per : (i+1)*per]
		if err := f.decodeInto(info, dst); err != nil {
			return nil, err
		}
		round(info.DType, b.DType, dst)
	}
	if !b.Quantized {
		return t, nil
	}
	t.Block = b.Block
	grid := ScaleGrid(b.Shape, b.Block) // for stacked params the leading E stays
	t.Scale = &runtime.Tensor{DType: ir.F32, Shape: grid}
	t.Scale.F = make([]float32, t.Scale.Numel())
	per = len(t.Scale.F) / len(b.Scales)
	for i, name := range b.Scales {
		f, _ := c.File(name)
		info, _ := f.Info(name)
		if err := f.decodeInto(info, t.Scale.F[i*per:(i+1)*per]); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// round makes values decoded from a src checkpoint dtype representable in
// the destination dtype (round to nearest even); widening is exact.
func round(src string, dst ir.DType, v []float32) {
	switch {
	case dst == ir.BF16 && (src == F32 || src == F16):
		for i, x := range v {
			v[i] = roundBF16(x)
		}
	case dst == ir.F16 && (src == F32 || src == BF16):
		for i, x := range v {
			v[i] = roundF16(x)
		}
	}
}
