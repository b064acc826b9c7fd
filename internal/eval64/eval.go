// Package eval64 runs IR functions in float64, written from
// docs/op-semantics.md independently of runtime/cpu. Tests use it as an
// oracle: finite differences of a loss in float64 for the gradient rules,
// and a second opinion on what each op computes. It covers the ops the
// gradient tests use (the forward ops, not the cache, MoE-lowering,
// gradient or optimizer ops) and is written for clarity, not speed.
package eval64

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/deepc-dev/deepc/ir"
)

// Tensor is a float64 (F) or integer (I) tensor.
type Tensor struct {
	Shape []int
	F     []float64
	I     []int64
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func newF(s []int) *Tensor { return &Tensor{Shape: slices.Clone(s), F: make([]float64, numel(s))} }
func newI(s []int) *Tensor { return &Tensor{Shape: slices.Clone(s), I: make([]int64, numel(s))} }

type kernel func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error)

// kernels holds the semantics of each op it covers; uncovered says why
// the others have none (internal/opfaces checks that every op is in one).
var kernels = map[*ir.OpDef]kernel{}

var uncovered = map[*ir.OpDef]string{
	ir.OpParam:              "Run binds it from its params",
	ir.OpSign:               "piecewise constant: its gradient is zero, nothing for a finite difference to check",
	ir.OpRoute:              "indices: no gradient to check",
	ir.OpKVWrite:            "inference only (the KV cache)",
	ir.OpAttentionCache:     "inference only (the KV cache)",
	ir.OpMoEDispatch:        "inference only (lowered experts)",
	ir.OpMoEGather:          "inference only (lowered experts)",
	ir.OpGroupedGEMM:        "inference only (lowered experts)",
	ir.OpMoECombine:         "inference only (lowered experts)",
	ir.OpScatterAdd:         "a gradient op: the oracle checks the gradient rules that emit it",
	ir.OpGroupedLinearWGrad: "a gradient op: the oracle checks the gradient rules that emit it",
	ir.OpAttentionGrad:      "a gradient op: the oracle checks the gradient rules that emit it",
	ir.OpAdamW:              "the optimizer's update (runtime/train tests it)",
	ir.OpQuantizeBlocks:     "a step function: its gradient is straight through by design, not a finite difference",
}

// Covers reports whether Run computes op d, and otherwise why not.
func Covers(d *ir.OpDef) (ok bool, without string) {
	if kernels[d] != nil {
		return true, ""
	}
	return false, uncovered[d]
}

// Run evaluates f with params (by name) and args; shapes must be constant.
func Run(f *ir.Func, params map[string]*Tensor, args []*Tensor) ([]*Tensor, error) {
	// A composite means its decomposition.
	f, err := ir.Expanded(f)
	if err != nil {
		return nil, err
	}
	vals := map[*ir.Value]*Tensor{}
	for i, a := range f.Args {
		vals[a] = args[i]
	}
	for _, op := range f.Body {
		var out [][]int
		for _, r := range op.Results {
			s := make([]int, len(r.Type.Shape))
			for i, d := range r.Type.Shape {
				if d.IsSym() {
					return nil, fmt.Errorf("eval64: %s has a symbolic result shape", op.Name)
				}
				s[i] = int(d.N)
			}
			out = append(out, s)
		}
		if op.Is(ir.OpParam) {
			name, _ := op.Attrs.Str("name")
			p, ok := params[name]
			if !ok {
				return nil, fmt.Errorf("eval64: param %s missing", name)
			}
			vals[op.Result()] = p
			continue
		}
		k := kernels[op.Def()]
		if k == nil {
			return nil, fmt.Errorf("eval64: no kernel for %s", op.Name)
		}
		in := make([]*Tensor, len(op.Args))
		for i, a := range op.Args {
			in[i] = vals[a]
		}
		res, err := k(op, in, out)
		if err != nil {
			return nil, fmt.Errorf("eval64: %s: %w", op.Name, err)
		}
		for i, r := range op.Results {
			if op.Results[i].Type.DType.IsFloat() && res[i].F == nil {
				return nil, fmt.Errorf("eval64: %s result %d is not float", op.Name, i)
			}
			vals[r] = res[i]
		}
	}
	out := make([]*Tensor, len(f.Results))
	for i, r := range f.Results {
		out[i] = vals[r]
	}
	return out, nil
}

// strides of a row-major shape.
func strides(s []int) []int {
	st := make([]int, len(s))
	n := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = n
		n *= s[i]
	}
	return st
}

// bcast maps a flat index of out to a flat index of a (numpy broadcasting).
func bcast(out, a []int) func(i int) int {
	os, as := strides(out), strides(a)
	off := len(out) - len(a)
	return func(i int) int {
		j := 0
		for d := range out {
			c := (i / os[d]) % out[d]
			if d >= off && a[d-off] != 1 {
				j += c * as[d-off]
			}
		}
		return j
	}
}

func axisOf(op *ir.Op, rank int) int {
	a, _ := op.Attrs.Int("axis")
	if a < 0 {
		a += int64(rank)
	}
	return int(a)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func init() {
	unary := map[*ir.OpDef]func(float64) float64{
		ir.OpExp: math.Exp, ir.OpLog: math.Log, ir.OpSqrt: math.Sqrt, ir.OpRsqrt: func(x float64) float64 { return 1 / math.Sqrt(x) },
		ir.OpSigmoid: sigmoid, ir.OpSilu: func(x float64) float64 { return x * sigmoid(x) }, ir.OpTanh: math.Tanh, ir.OpErf: math.Erf,
		ir.OpNeg: func(x float64) float64 { return -x }, ir.OpAbs: math.Abs,
	}
	for d, fn := range unary {
		kernels[d] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
			r := newF(out[0])
			for i, v := range in[0].F {
				r.F[i] = fn(v)
			}
			return []*Tensor{r}, nil
		}
	}
	binary := map[*ir.OpDef]func(a, b float64) float64{
		ir.OpAdd: func(a, b float64) float64 { return a + b }, ir.OpSub: func(a, b float64) float64 { return a - b },
		ir.OpMul: func(a, b float64) float64 { return a * b }, ir.OpDiv: func(a, b float64) float64 { return a / b },
		ir.OpMaximum: math.Max, ir.OpMinimum: math.Min, ir.OpPow: math.Pow,
	}
	for d, fn := range binary {
		kernels[d] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
			r := newF(out[0])
			ia, ib := bcast(out[0], in[0].Shape), bcast(out[0], in[1].Shape)
			for i := range r.F {
				r.F[i] = fn(in[0].F[ia(i)], in[1].F[ib(i)])
			}
			return []*Tensor{r}, nil
		}
	}
	cmp := map[*ir.OpDef]func(a, b float64) bool{
		ir.OpEq: func(a, b float64) bool { return a == b }, ir.OpNe: func(a, b float64) bool { return a != b },
		ir.OpLt: func(a, b float64) bool { return a < b }, ir.OpLe: func(a, b float64) bool { return a <= b },
		ir.OpGt: func(a, b float64) bool { return a > b }, ir.OpGe: func(a, b float64) bool { return a >= b },
	}
	for d, fn := range cmp {
		kernels[d] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
			r := newI(out[0])
			ia, ib := bcast(out[0], in[0].Shape), bcast(out[0], in[1].Shape)
			for i := range r.I {
				if fn(in[0].F[ia(i)], in[1].F[ib(i)]) {
					r.I[i] = 1
				}
			}
			return []*Tensor{r}, nil
		}
	}
	kernels[ir.OpWhere] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		r := newF(out[0])
		ic, ia, ib := bcast(out[0], in[0].Shape), bcast(out[0], in[1].Shape), bcast(out[0], in[2].Shape)
		for i := range r.F {
			if in[0].I[ic(i)] != 0 {
				r.F[i] = in[1].F[ia(i)]
			} else {
				r.F[i] = in[2].F[ib(i)]
			}
		}
		return []*Tensor{r}, nil
	}
	kernels[ir.OpCast] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		x := in[0]
		if op.Result().Type.DType.IsFloat() {
			r := newF(out[0])
			for i := range r.F {
				if x.F != nil {
					r.F[i] = x.F[i]
				} else {
					r.F[i] = float64(x.I[i])
				}
			}
			return []*Tensor{r}, nil
		}
		r := newI(out[0])
		for i := range r.I {
			if x.F != nil {
				r.I[i] = int64(math.Trunc(x.F[i]))
			} else {
				r.I[i] = x.I[i]
			}
		}
		return []*Tensor{r}, nil
	}
	kernels[ir.OpConst] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		r := newF(out[0])
		switch v := op.Attrs["value"].(type) {
		case float64:
			r.F[0] = v
		case int64:
			r.F[0] = float64(v)
		}
		return []*Tensor{r}, nil
	}
	reduce := func(def *ir.OpDef) kernel {
		return func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
			x := in[0]
			ax := axisOf(op, len(x.Shape))
			outer, n, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
			r := newF(out[0])
			for o := 0; o < outer; o++ {
				for i := 0; i < inner; i++ {
					acc := 0.0
					if def == ir.OpReduceMax {
						acc = math.Inf(-1)
					}
					for j := 0; j < n; j++ {
						v := x.F[(o*n+j)*inner+i]
						if def == ir.OpReduceMax {
							acc = math.Max(acc, v)
						} else {
							acc += v
						}
					}
					if def == ir.OpMean {
						acc /= float64(n)
					}
					r.F[o*inner+i] = acc
				}
			}
			return []*Tensor{r}, nil
		}
	}
	for _, d := range []*ir.OpDef{ir.OpSum, ir.OpMean, ir.OpReduceMax} {
		kernels[d] = reduce(d)
	}
	kernels[ir.OpSoftmax] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		x := in[0]
		ax := axisOf(op, len(x.Shape))
		outer, n, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
		r := newF(out[0])
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				at := func(j int) int { return (o*n+j)*inner + i }
				mx := math.Inf(-1)
				for j := 0; j < n; j++ {
					mx = math.Max(mx, x.F[at(j)])
				}
				s := 0.0
				for j := 0; j < n; j++ {
					s += math.Exp(x.F[at(j)] - mx)
				}
				for j := 0; j < n; j++ {
					r.F[at(j)] = math.Exp(x.F[at(j)]-mx) / s
				}
			}
		}
		return []*Tensor{r}, nil
	}
	kernels[ir.OpRMSNorm] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		x, w := in[0], in[1]
		eps, _ := op.Attrs.Float("eps")
		d := x.Shape[len(x.Shape)-1]
		r := newF(out[0])
		for row := 0; row < len(x.F)/d; row++ {
			ms := 0.0
			for _, v := range x.F[row*d : (row+1)*d] {
				ms += v * v
			}
			inv := 1 / math.Sqrt(ms/float64(d)+eps)
			for i := 0; i < d; i++ {
				r.F[row*d+i] = x.F[row*d+i] * inv * w.F[i]
			}
		}
		return []*Tensor{r}, nil
	}
	kernels[ir.OpLinear] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		x, w := in[0], in[1]
		N, K := w.Shape[0], w.Shape[1]
		r := newF(out[0])
		for m := 0; m < len(x.F)/K; m++ {
			for n := 0; n < N; n++ {
				s := 0.0
				for k := 0; k < K; k++ {
					s += x.F[m*K+k] * w.F[n*K+k]
				}
				r.F[m*N+n] = s
			}
		}
		return []*Tensor{r}, nil
	}
	kernels[ir.OpMatmul] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		a, b := in[0], in[1]
		rk := len(a.Shape)
		M, K, N := a.Shape[rk-2], a.Shape[rk-1], b.Shape[rk-1]
		r := newF(out[0])
		for bt := 0; bt < numel(a.Shape[:rk-2]); bt++ {
			for m := 0; m < M; m++ {
				for n := 0; n < N; n++ {
					s := 0.0
					for k := 0; k < K; k++ {
						s += a.F[(bt*M+m)*K+k] * b.F[(bt*K+k)*N+n]
					}
					r.F[(bt*M+m)*N+n] = s
				}
			}
		}
		return []*Tensor{r}, nil
	}
	kernels[ir.OpGroupedLinear] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		x, w, idx := in[0], in[1], in[2]
		N, K := w.Shape[1], w.Shape[2]
		k := idx.Shape[1]
		r := newF(out[0])
		for s, e := range idx.I {
			row := x.F[(s/k)*K : (s/k+1)*K]
			if len(x.Shape) == 3 {
				row = x.F[s*K : (s+1)*K]
			}
			for n := 0; n < N; n++ {
				acc := 0.0
				for i := 0; i < K; i++ {
					acc += row[i] * w.F[(int(e)*N+n)*K+i]
				}
				r.F[s*N+n] = acc
			}
		}
		return []*Tensor{r}, nil
	}
	kernels[ir.OpReshape] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		return []*Tensor{{Shape: out[0], F: slices.Clone(in[0].F), I: slices.Clone(in[0].I)}}, nil
	}
	kernels[ir.OpExpand] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		r := newF(out[0])
		ia := bcast(out[0], in[0].Shape)
		for i := range r.F {
			r.F[i] = in[0].F[ia(i)]
		}
		return []*Tensor{r}, nil
	}
	kernels[ir.OpTranspose] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		perm, _ := op.Attrs.Ints("perm")
		x := in[0]
		r := newF(out[0])
		xs, os := strides(x.Shape), strides(out[0])
		for i := range r.F {
			j := 0
			for d := range out[0] {
				j += ((i / os[d]) % out[0][d]) * xs[perm[d]]
			}
			r.F[i] = x.F[j]
		}
		return []*Tensor{r}, nil
	}
	// Pieces along an axis: concat joins them, split and slice cut them.
	kernels[ir.OpConcat] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		ax := axisOf(op, len(out[0]))
		r := newF(out[0])
		outer, inner, n := numel(out[0][:ax]), numel(out[0][ax+1:]), out[0][ax]
		at := 0
		for _, t := range in {
			m := t.Shape[ax]
			for o := 0; o < outer; o++ {
				copy(r.F[(o*n+at)*inner:(o*n+at+m)*inner], t.F[o*m*inner:(o+1)*m*inner])
			}
			at += m
		}
		return []*Tensor{r}, nil
	}
	cut := func(x *Tensor, ax, start, end int) *Tensor {
		s := slices.Clone(x.Shape)
		s[ax] = end - start
		r := newF(s)
		outer, inner, n := numel(x.Shape[:ax]), numel(x.Shape[ax+1:]), x.Shape[ax]
		for o := 0; o < outer; o++ {
			copy(r.F[o*(end-start)*inner:(o+1)*(end-start)*inner], x.F[(o*n+start)*inner:(o*n+end)*inner])
		}
		return r
	}
	kernels[ir.OpSplit] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		ax := axisOf(op, len(in[0].Shape))
		sizes, _ := op.Attrs.Ints("sizes")
		var res []*Tensor
		at := 0
		for _, n := range sizes {
			res = append(res, cut(in[0], ax, at, at+int(n)))
			at += int(n)
		}
		return res, nil
	}
	kernels[ir.OpSlice] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		ax := axisOf(op, len(in[0].Shape))
		st, _ := op.Attrs.Int("start")
		en, _ := op.Attrs.Int("end")
		return []*Tensor{cut(in[0], ax, int(st), int(en))}, nil
	}
	kernels[ir.OpGather] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		table, idx := in[0], in[1]
		d := numel(table.Shape[1:])
		r := newF(out[0])
		for t, id := range idx.I {
			copy(r.F[t*d:(t+1)*d], table.F[int(id)*d:(int(id)+1)*d])
		}
		return []*Tensor{r}, nil
	}
	kernels[ir.OpTakeAlong] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		x, idx := in[0], in[1]
		ax := axisOf(op, len(x.Shape))
		r := newF(out[0])
		xs, os := strides(x.Shape), strides(out[0])
		for i := range r.F {
			j := 0
			for d := range out[0] {
				c := (i / os[d]) % out[0][d]
				if d == ax {
					c = int(idx.I[i])
				}
				j += c * xs[d]
			}
			r.F[i] = x.F[j]
		}
		return []*Tensor{r}, nil
	}
	kernels[ir.OpShift] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		x, seq := in[0], in[1]
		off, _ := op.Attrs.Int("offset")
		T := x.Shape[0]
		d := numel(x.Shape[1:])
		r := newF(out[0])
		for t := 0; t < T; t++ {
			s := t + int(off)
			if s >= 0 && s < T && seq.I[s] == seq.I[t] {
				copy(r.F[t*d:(t+1)*d], x.F[s*d:(s+1)*d])
			}
		}
		return []*Tensor{r}, nil
	}
	kernels[ir.OpTopK] = func(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
		x := in[0]
		k, _ := op.Attrs.Int("k")
		n := x.Shape[len(x.Shape)-1]
		vals, idx := newF(out[0]), newI(out[1])
		for row := 0; row < len(x.F)/n; row++ {
			order := make([]int, n)
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(a, b int) bool { return x.F[row*n+order[a]] > x.F[row*n+order[b]] })
			for j := 0; j < int(k); j++ {
				vals.F[row*int(k)+j] = x.F[row*n+order[j]]
				idx.I[row*int(k)+j] = int64(order[j])
			}
		}
		return []*Tensor{vals, idx}, nil
	}
	kernels[ir.OpRope] = kRope
	kernels[ir.OpAttention] = kAttention
}

// kRope rotates pairs of the first rotary_dim dims by pos·freq
// (op-semantics: rope, YaRN, linear, llama3, dynamic).
func kRope(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
	x, pos := in[0], in[1]
	theta, _ := op.Attrs.Float("theta")
	full := x.Shape[len(x.Shape)-1]
	d := full
	if r, ok := op.Attrs.Int("rotary_dim"); ok {
		d = int(r)
	}
	if sc, ok := op.Attrs.Dict("scaling"); ok {
		if typ, _ := sc.Str("type"); typ == "dynamic" {
			factor, _ := sc.Float("factor")
			orig, _ := sc.Float("original_max_position_embeddings")
			seqLen := 0.0
			for _, p := range pos.I {
				seqLen = math.Max(seqLen, float64(p)+1)
			}
			if seqLen > orig && d > 2 {
				theta *= math.Pow(factor*seqLen/orig-(factor-1), float64(d)/float64(d-2))
			}
		}
	}
	freq := make([]float64, d/2)
	for i := range freq {
		freq[i] = math.Pow(theta, -2*float64(i)/float64(d))
	}
	if sc, ok := op.Attrs.Dict("scaling"); ok {
		typ, _ := sc.Str("type")
		factor, _ := sc.Float("factor")
		switch typ {
		case "linear":
			for i := range freq {
				freq[i] /= factor
			}
		case "llama3":
			orig, _ := sc.Float("original_max_position_embeddings")
			lo, ok := sc.Float("low_freq_factor")
			if !ok {
				lo = 1
			}
			hi, ok := sc.Float("high_freq_factor")
			if !ok {
				hi = 4
			}
			for i := range freq {
				wl := 2 * math.Pi / freq[i]
				if wl > orig/lo {
					freq[i] /= factor
				} else if wl >= orig/hi {
					s := (orig/wl - lo) / (hi - lo)
					freq[i] = (1-s)*freq[i]/factor + s*freq[i]
				}
			}
		}
		if typ == "yarn" {
			factor, _ := sc.Float("factor")
			orig, _ := sc.Int("original_max_position_embeddings")
			bf, ok := sc.Float("beta_fast")
			if !ok {
				bf = 32
			}
			bs, ok := sc.Float("beta_slow")
			if !ok {
				bs = 1
			}
			corr := func(b float64) float64 {
				return float64(d) * math.Log(float64(orig)/(b*2*math.Pi)) / (2 * math.Log(theta))
			}
			lo := math.Max(math.Floor(corr(bf)), 0)
			hi := math.Min(math.Ceil(corr(bs)), float64(d-1))
			if lo == hi {
				hi += 0.001
			}
			for i := range freq {
				ramp := math.Min(math.Max((float64(i)-lo)/(hi-lo), 0), 1)
				freq[i] = freq[i]/factor*ramp + freq[i]*(1-ramp)
			}
		}
	}
	sign := 1.0
	if inv, _ := op.Attrs.Bool("inverse"); inv {
		sign = -1
	}
	// layout "half" pairs x[i] with x[i+d/2] (docs/op-semantics.md).
	p0, off := func(i int) int { return 2 * i }, 1
	if l, _ := op.Attrs.Str("layout"); l == "half" {
		p0, off = func(i int) int { return i }, d/2
	}
	r := newF(out[0])
	copy(r.F, x.F) // the dims past rotary_dim pass through
	per := numel(x.Shape[1:]) / full
	for t := 0; t < x.Shape[0]; t++ {
		for v := 0; v < per; v++ {
			base := (t*per + v) * full
			for i := 0; i < d/2; i++ {
				s, c := math.Sincos(float64(pos.I[t]) * freq[i])
				s *= sign
				j, k := base+p0(i), base+p0(i)+off
				a, b := x.F[j], x.F[k]
				r.F[j], r.F[k] = a*c-b*s, a*s+b*c
			}
		}
	}
	return []*Tensor{r}, nil
}

// kAttention: softmax over the visible keys of the query's sequence; query
// head h reads key/value head h / (H/Hk).
func kAttention(op *ir.Op, in []*Tensor, out [][]int) ([]*Tensor, error) {
	q, k, v, pos, seq := in[0], in[1], in[2], in[3], in[4]
	scale, _ := op.Attrs.Float("scale")
	causal := true
	if c, ok := op.Attrs.Bool("causal"); ok {
		causal = c
	}
	window, _ := op.Attrs.Int("window")
	T, H, D, Dv := q.Shape[0], q.Shape[1], q.Shape[2], v.Shape[2]
	Hk := k.Shape[1]
	r := newF(out[0])
	for t := 0; t < T; t++ {
		for h := 0; h < H; h++ {
			kh := h / (H / Hk)
			var ks []int
			var sc []float64
			mx := math.Inf(-1)
			for s := 0; s < T; s++ {
				if seq.I[s] != seq.I[t] || (causal && pos.I[s] > pos.I[t]) || (window > 0 && pos.I[t]-pos.I[s] >= window) {
					continue
				}
				dot := 0.0
				for i := 0; i < D; i++ {
					dot += q.F[(t*H+h)*D+i] * k.F[(s*Hk+kh)*D+i]
				}
				ks, sc = append(ks, s), append(sc, dot*scale)
				mx = math.Max(mx, dot*scale)
			}
			sum := 0.0
			for i := range sc {
				sc[i] = math.Exp(sc[i] - mx)
				sum += sc[i]
			}
			for j, s := range ks {
				for i := 0; i < Dv; i++ {
					r.F[(t*H+h)*Dv+i] += sc[j] / sum * v.F[(s*Hk+kh)*Dv+i]
				}
			}
		}
	}
	return []*Tensor{r}, nil
}
