package cpu

import (
	"fmt"
	"math"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Reductions, softmax and rms_norm. Floats accumulate in f64 and round once.

func init() {
	register(ir.OpSum, kReduce(ir.OpSum))
	register(ir.OpMean, kReduce(ir.OpMean))
	register(ir.OpReduceMax, kReduce(ir.OpReduceMax))
	register(ir.OpSoftmax, kSoftmax)
	register(ir.OpRMSNorm, kRMSNorm)
}

func kReduce(def *ir.OpDef) Kernel {
	return func(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
		x := args[0]
		ax, err := attrAxis(op, len(x.Shape))
		if err != nil {
			return nil, err
		}
		outer, n, inner := split3(x.Shape, ax)
		out := c.Out(0)
		if numel(out.Shape) != outer*inner {
			return nil, fmt.Errorf("result shape %v does not fit reducing %v along axis %d", out.Shape, x.Shape, ax)
		}
		isFloat := x.DType.IsFloat()
		if isFloat != out.DType.IsFloat() {
			return nil, fmt.Errorf("result dtype %s does not match %s", out.DType, x.DType)
		}
		if n == 0 && def == ir.OpReduceMax {
			return nil, fmt.Errorf("reduce_max over an empty axis")
		}
		if isFloat && def != ir.OpReduceMax && inner >= 16 {
			// Reducing a non-last axis: walk the rows contiguously, an f64
			// accumulator per output, j ascending: the same sums in the
			// same order as the strided loop below, without its stride.
			const span = 256
			spans := (inner + span - 1) / span
			c.parallel(outer*spans, max(1, elemGrain/max(n*span, 1)), func(lo, hi int) {
				acc := make([]float64, span)
				for r := lo; r < hi; r++ {
					o, i0 := r/spans, r%spans*span
					w := min(span, inner-i0)
					a := acc[:w]
					clear(a)
					for j := 0; j < n; j++ {
						row := x.F[o*n*inner+j*inner+i0:][:w]
						for k, v := range row {
							a[k] += float64(v)
						}
					}
					dst := out.F[o*inner+i0:][:w]
					for k, v := range a {
						if def == ir.OpMean {
							v /= float64(n)
						}
						dst[k] = float32(v)
					}
				}
			})
			return one(out), nil
		}
		c.parallel(outer*inner, max(1, elemGrain/max(n, 1)), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				o, i := r/inner, r%inner
				base := o*n*inner + i
				if isFloat && inner == 1 && def != ir.OpReduceMax {
					acc := sumF64(x.F[base : base+n])
					if def == ir.OpMean {
						acc /= float64(n)
					}
					out.F[r] = float32(acc)
					continue
				}
				if isFloat {
					var acc float64
					if def == ir.OpReduceMax {
						acc = math.Inf(-1)
					}
					for j := 0; j < n; j++ {
						v := float64(x.F[base+j*inner])
						switch {
						case def != ir.OpReduceMax:
							acc += v
						case v != v:
							acc = v
							j = n // NaN propagates
						case v > acc:
							acc = v
						}
					}
					if def == ir.OpMean {
						acc /= float64(n)
					}
					out.F[r] = float32(acc)
				} else {
					var acc int64
					if def == ir.OpReduceMax {
						acc = math.MinInt64
					}
					for j := 0; j < n; j++ {
						v := x.I[base+j*inner]
						if def == ir.OpReduceMax {
							acc = max(acc, v)
						} else {
							acc += v
						}
					}
					if def == ir.OpMean && n > 0 {
						acc /= int64(n) // truncated toward zero
					}
					out.I[r] = acc
				}
			}
		})
		return one(out), nil
	}
}

// sumF64 sums a row in f64 with four interleaved accumulators: the f64
// add's latency, not its throughput, bounds a single running sum. The
// rounding differences between the orders are in f64's last bits, far
// below the f32 result's rounding.
func sumF64(row []float32) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(row); j += 4 {
		r := row[j : j+4 : j+4]
		s0 += float64(r[0])
		s1 += float64(r[1])
		s2 += float64(r[2])
		s3 += float64(r[3])
	}
	for ; j < len(row); j++ {
		s0 += float64(row[j])
	}
	return (s0 + s1) + (s2 + s3)
}

func kSoftmax(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := args[0]
	ax, err := attrAxis(op, len(x.Shape))
	if err != nil {
		return nil, err
	}
	outer, n, inner := split3(x.Shape, ax)
	out := c.Out(0)
	c.parallel(outer*inner, max(1, elemGrain/max(n, 1)), func(lo, hi int) {
		e := make([]float64, n)
		for r := lo; r < hi; r++ {
			o, i := r/inner, r%inner
			base := o*n*inner + i
			m := math.Inf(-1)
			for j := 0; j < n; j++ {
				m = max(m, float64(x.F[base+j*inner]))
			}
			var sum float64
			for j := 0; j < n; j++ {
				e[j] = expAny(float64(x.F[base+j*inner]) - m)
				sum += e[j]
			}
			for j := 0; j < n; j++ {
				out.F[base+j*inner] = float32(e[j] / sum)
			}
		}
	})
	return one(out), nil
}

func kRMSNorm(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x, w := args[0], args[1]
	eps, err := attrFloat(op, "eps")
	if err != nil {
		return nil, err
	}
	if len(x.Shape) == 0 {
		return nil, fmt.Errorf("rms_norm of a scalar")
	}
	d := x.Shape[len(x.Shape)-1]
	if len(w.Shape) != 1 || w.Shape[0] != d {
		return nil, fmt.Errorf("weight shape %v does not match the last dim %d", w.Shape, d)
	}
	out := c.Out(0)
	rows := numel(x.Shape) / max(d, 1)
	c.parallel(rows, max(1, elemGrain/max(d, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xs := x.F[r*d : (r+1)*d]
			var ss float64
			for _, v := range xs {
				ss += float64(v) * float64(v)
			}
			inv := 1 / math.Sqrt(ss/float64(d)+eps)
			o := out.F[r*d : (r+1)*d]
			for j, v := range xs {
				o[j] = float32(float64(v) * inv * float64(w.F[j]))
			}
		}
	})
	return one(out), nil
}
