package cpu

import (
	"fmt"
	"math"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

func init() { register(ir.OpRope, kRope) }

func kRope(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x, pos := args[0], args[1]
	theta, err := attrFloat(op, "theta")
	if err != nil {
		return nil, err
	}
	var scaling ir.Attrs
	if v, ok := op.Attrs["scaling"]; ok {
		if scaling, ok = v.(ir.Attrs); !ok {
			return nil, fmt.Errorf("attribute scaling must be a dict")
		}
	}
	if len(x.Shape) < 2 || len(pos.Shape) != 1 || pos.Shape[0] != x.Shape[0] {
		return nil, fmt.Errorf("rope of %v at positions %v", x.Shape, pos.Shape)
	}
	sign := 1.0 // inverse: rotate by −angle (rope's adjoint)
	if v, ok := op.Attrs["inverse"]; ok {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("attribute inverse must be a bool")
		}
		if b {
			sign = -1
		}
	}
	d := x.Shape[len(x.Shape)-1]
	if d%2 != 0 {
		return nil, fmt.Errorf("rotary dim %d must be even", d)
	}
	half, err := ir.RopeHalf(op.Attrs)
	if err != nil {
		return nil, err
	}
	r64, err := ir.RopeRotaryDim(op.Attrs, int64(d))
	if err != nil {
		return nil, err
	}
	r := int(r64) // the leading dims that rotate; the rest pass through
	// Pair i is (x[j0], x[j1]): consecutive, or across the halves.
	j0, step := func(i int) int { return 2 * i }, 1
	if half {
		j0, step = func(i int) int { return i }, r/2
	}
	var seqLen int64 // the largest position plus one (dynamic scaling)
	for _, p := range pos.I {
		seqLen = max(seqLen, p+1)
	}
	freq, err := ir.RopeFreqsAt(r, theta, scaling, seqLen)
	if err != nil {
		return nil, err
	}
	T := x.Shape[0]
	per := numel(x.Shape[1:]) / d // vectors per token
	out := c.Out(0)
	c.parallel(T, max(1, elemGrain/max(per*d, 1)), func(lo, hi int) {
		cs := make([]float64, d) // cos, sin interleaved
		for t := lo; t < hi; t++ {
			p := float64(pos.I[t])
			for i, f := range freq {
				s, co := math.Sincos(p * f)
				cs[2*i], cs[2*i+1] = co, sign*s
			}
			base := t * per * d
			for v := 0; v < per; v++ {
				xs := x.F[base+v*d : base+(v+1)*d]
				o := out.F[base+v*d : base+(v+1)*d]
				for i := 0; i < r/2; i++ {
					p, q := j0(i), j0(i)+step
					a, b := float64(xs[p]), float64(xs[q])
					co, s := cs[2*i], cs[2*i+1]
					o[p] = float32(a*co - b*s)
					o[q] = float32(a*s + b*co)
				}
				copy(o[r:], xs[r:])
			}
		}
	})
	return one(out), nil
}
