package autodiff

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
)

// NextTokenLoss adds to m a function name computing, from forward's logits
// (result 0, [T, V]) for packed sequences, the mean next-token
// cross-entropy: position t predicts token t+1 of its own sequence, the last
// position of each sequence predicts nothing. It returns the function,
// whose arguments are forward's and whose one result is the loss (f32).
func NextTokenLoss(m *ir.Module, forward *ir.Func, name string) (*ir.Func, error) {
	f := forward.Clone(name)
	var tokens, seq *ir.Value
	for _, a := range f.Args {
		switch a.Name {
		case "tokens":
			tokens = a
		case "seq":
			seq = a
		}
	}
	if tokens == nil || seq == nil || len(f.Results) == 0 {
		return nil, fmt.Errorf("func @%s needs arguments %%tokens and %%seq and logits as result 0", forward.Name)
	}
	logits := f.Results[0]
	if len(logits.Type.Shape) != 2 || logits.Type.Shape[0] != tokens.Type.Shape[0] {
		return nil, fmt.Errorf("result 0 of @%s is %s, want logits [T, V]", forward.Name, logits.Type)
	}
	b := newBuilder(f)
	b.loc = ir.Loc{File: "<next-token loss>"}
	x := b.cast(logits, ir.F32)
	T := tokens.Type.Shape[0]
	// lse(x) − x[target], with the max subtracted for range.
	mx := b.op1("reduce_max", []*ir.Value{x}, ir.Attrs{"axis": int64(-1), "keepdim": true})
	z := b.bin("sub", x, mx)
	lse := b.un("log", b.sum(b.un("exp", z), 1, true))
	target := b.op1("shift", []*ir.Value{tokens, seq}, ir.Attrs{"offset": int64(1)})
	picked := b.op1("take_along", []*ir.Value{z, b.reshape(target, ir.Shape{T, ir.C(1)})}, ir.Attrs{"axis": int64(1)})
	nll := b.reshape(b.bin("sub", lse, picked), ir.Shape{T})
	// 1 where the next position is in the same sequence, else 0.
	ones := b.expand(b.constant(1, ir.F32), ir.Shape{T})
	mask := b.op1("shift", []*ir.Value{ones, seq}, ir.Attrs{"offset": int64(1)})
	total := b.sum(b.bin("mul", nll, mask), 0, false)
	count := b.sum(mask, 0, false)
	loss := b.bin("div", total, b.bin("maximum", count, b.constant(1, ir.F32)))
	if b.err != nil {
		return nil, b.err
	}
	f.Results = []*ir.Value{loss}
	m.Funcs = append(m.Funcs, f)
	if err := ir.Verify(m); err != nil {
		return nil, fmt.Errorf("the loss function does not verify: %w", err)
	}
	return f, nil
}
