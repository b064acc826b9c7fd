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
	tokens, seq := arg(f, "tokens"), arg(f, "seq")
	if tokens == nil || seq == nil || len(f.Results) == 0 {
		return nil, fmt.Errorf("func @%s needs arguments %%tokens and %%seq and logits as result 0", forward.Name)
	}
	b := newBuilder(f)
	b.loc = ir.Loc{File: "<next-token loss>"}
	loss := crossEntropy(b, f.Results[0], tokens, seq, 1)
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

func arg(f *ir.Func, name string) *ir.Value {
	for _, a := range f.Args {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// crossEntropy is the mean over positions t of −log softmax(logits[t])
// at token t+offset of t's sequence, over the positions that have one.
func crossEntropy(b *builder, logits, tokens, seq *ir.Value, offset int64) *ir.Value {
	if len(logits.Type.Shape) != 2 || logits.Type.Shape[0] != tokens.Type.Shape[0] {
		b.err = fmt.Errorf("logits are %s, want [T, V]", logits.Type)
		return bad
	}
	x := b.cast(logits, ir.F32)
	T := tokens.Type.Shape[0]
	// lse(x) − x[target], with the max subtracted for range.
	mx := b.op1(ir.OpReduceMax, []*ir.Value{x}, ir.Attrs{"axis": int64(-1), "keepdim": true})
	z := b.bin(ir.OpSub, x, mx)
	lse := b.un(ir.OpLog, b.sum(b.un(ir.OpExp, z), 1, true))
	target := b.op1(ir.OpShift, []*ir.Value{tokens, seq}, ir.Attrs{"offset": offset})
	picked := b.op1(ir.OpTakeAlong, []*ir.Value{z, b.reshape(target, ir.Shape{T, ir.C(1)})}, ir.Attrs{"axis": int64(1)})
	nll := b.reshape(b.bin(ir.OpSub, lse, picked), ir.Shape{T})
	// 1 where position t+offset is in t's sequence, else 0.
	ones := b.expand(b.constant(1, ir.F32), ir.Shape{T})
	mask := b.op1(ir.OpShift, []*ir.Value{ones, seq}, ir.Attrs{"offset": offset})
	total := b.sum(b.bin(ir.OpMul, nll, mask), 0, false)
	count := b.sum(mask, 0, false)
	return b.bin(ir.OpDiv, total, b.bin(ir.OpMaximum, count, b.constant(1, ir.F32)))
}

// inline appends a copy of f's body to b's function with f's arguments
// bound to args, and returns the copies of f's results.
func inline(b *builder, f *ir.Func, args []*ir.Value) []*ir.Value {
	if len(args) != len(f.Args) {
		b.err = fmt.Errorf("inlining @%s: %d arguments for %d", f.Name, len(args), len(f.Args))
		return nil
	}
	// Gradients are defined on built-in ops: a composite is differentiated
	// through its decomposition.
	f, err := ir.Expanded(f)
	if err != nil {
		b.err = err
		return nil
	}
	vals := map[*ir.Value]*ir.Value{}
	for i, a := range f.Args {
		if !args[i].Type.Equal(a.Type) {
			b.err = fmt.Errorf("inlining @%s: argument %%%s is %s, want %s", f.Name, a.Name, args[i].Type, a.Type)
			return nil
		}
		vals[a] = args[i]
	}
	for _, op := range f.Body {
		b.copyOp(op, func(a *ir.Value) *ir.Value { return vals[a] }, vals)
	}
	out := make([]*ir.Value, len(f.Results))
	for i, r := range f.Results {
		out[i] = vals[r]
	}
	return out
}
