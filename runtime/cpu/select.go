package cpu

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// topk and route. Order: larger first; equal values by lower index first;
// NaN counts as larger than every number (as torch.topk does).

func init() {
	register(ir.OpTopK, kTopK)
	register(ir.OpRoute, kRoute)
}

// better reports whether (a at index i) ranks before (b at index j).
func better(a float32, i int, b float32, j int) bool {
	an, bn := a != a, b != b
	switch {
	case an != bn:
		return an
	case an || a == b:
		return i < j
	}
	return a > b
}

// selectTop writes into dst (len k) the indices of the k best of vals[i]
// for i in cand (or 0..len(vals)-1 when cand is nil), best first.
func selectTop(vals []float32, cand []int, dst []int) {
	k := len(dst)
	n := 0
	consider := func(i int) {
		v := vals[i]
		if n == k && !better(v, i, vals[dst[k-1]], dst[k-1]) {
			return
		}
		p := min(n, k-1)
		for p > 0 && better(v, i, vals[dst[p-1]], dst[p-1]) {
			dst[p] = dst[p-1]
			p--
		}
		dst[p] = i
		if n < k {
			n++
		}
	}
	if cand == nil {
		for i := range vals {
			consider(i)
		}
	} else {
		for _, i := range cand {
			consider(i)
		}
	}
}

func kTopK(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := args[0]
	k64, err := attrInt(op, "k")
	if err != nil {
		return nil, err
	}
	if len(x.Shape) == 0 {
		return nil, fmt.Errorf("topk of a scalar")
	}
	d := x.Shape[len(x.Shape)-1]
	k := int(k64)
	if k <= 0 || k > d {
		return nil, fmt.Errorf("k = %d must be in 1..%d", k, d)
	}
	vals, idx := c.OutType(0, moveDType(c, 0, x)), c.Out(1)
	if err := checkKinds(vals, x); err != nil {
		return nil, err
	}
	rows := numel(x.Shape) / d
	c.parallel(rows, max(1, elemGrain/d), func(lo, hi int) {
		sel := make([]int, k)
		for r := lo; r < hi; r++ {
			if x.DType.IsFloat() {
				selectTop(x.F[r*d:(r+1)*d], nil, sel)
			} else {
				selectTopInt(x.I[r*d:(r+1)*d], sel)
			}
			for j, i := range sel {
				if x.DType.IsFloat() {
					vals.F[r*k+j] = x.F[r*d+i]
				} else {
					vals.I[r*k+j] = x.I[r*d+i]
				}
				idx.I[r*k+j] = int64(i)
			}
		}
	})
	return []*runtime.Tensor{vals, idx}, nil
}

// selectTopInt is selectTop for integer values.
func selectTopInt(vals []int64, dst []int) {
	k := len(dst)
	n := 0
	for i, v := range vals {
		if n == k && v <= vals[dst[k-1]] {
			continue
		}
		p := min(n, k-1)
		for p > 0 && v > vals[dst[p-1]] {
			dst[p] = dst[p-1]
			p--
		}
		dst[p] = i
		if n < k {
			n++
		}
	}
}

// kRoute is group-limited top-k (docs/op-semantics.md). A group's score is
// the f32 sum of its group_top largest scores added largest first (what
// torch computes with topk(...).sum()).
func kRoute(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	s := args[0]
	if len(s.Shape) != 2 || !s.DType.IsFloat() {
		return nil, fmt.Errorf("scores must be a float [T, E] tensor, got %s %v", s.DType, s.Shape)
	}
	T, E := s.Shape[0], s.Shape[1]
	geti := func(k string, def int64) (int, error) {
		v, ok := op.Attrs.Int(k)
		if !ok {
			if def < 0 {
				return 0, fmt.Errorf("attribute %s must be an integer", k)
			}
			v = def
		}
		return int(v), nil
	}
	k, err := geti("k", -1)
	if err != nil {
		return nil, err
	}
	groups, err := geti("groups", -1)
	if err != nil {
		return nil, err
	}
	kg, err := geti("topk_groups", -1)
	if err != nil {
		return nil, err
	}
	top, err := geti("group_top", 1)
	if err != nil {
		return nil, err
	}
	switch {
	case groups <= 0 || E%groups != 0:
		return nil, fmt.Errorf("groups = %d must divide the %d experts", groups, E)
	case kg <= 0 || kg > groups:
		return nil, fmt.Errorf("topk_groups = %d must be in 1..%d", kg, groups)
	case k <= 0 || k > kg*(E/groups):
		return nil, fmt.Errorf("k = %d must be in 1..%d", k, kg*(E/groups))
	case top <= 0 || top > E/groups:
		return nil, fmt.Errorf("group_top = %d must be in 1..%d", top, E/groups)
	}
	per := E / groups
	out := c.Out(0)
	c.parallel(T, max(1, elemGrain/max(E, 1)), func(lo, hi int) {
		gscore := make([]float32, groups)
		gsel := make([]int, kg)
		best := make([]int, top)
		cand := make([]int, 0, kg*per)
		sel := make([]int, k)
		for t := lo; t < hi; t++ {
			row := s.F[t*E : (t+1)*E]
			for g := 0; g < groups; g++ {
				grp := row[g*per : (g+1)*per]
				selectTop(grp, nil, best)
				var sum float32
				for _, i := range best {
					sum += grp[i]
				}
				gscore[g] = sum
			}
			selectTop(gscore, nil, gsel)
			// Candidates in index order, so ties keep the lower index.
			cand = cand[:0]
			for g := 0; g < groups; g++ {
				kept := false
				for _, h := range gsel {
					kept = kept || h == g
				}
				if kept {
					for i := g * per; i < (g+1)*per; i++ {
						cand = append(cand, i)
					}
				}
			}
			selectTop(row, cand, sel)
			for j, i := range sel {
				out.I[t*k+j] = int64(i)
			}
		}
	})
	return one(out), nil
}
