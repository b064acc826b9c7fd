package dsl

import (
	"github.com/alecthomas/participle/v2/lexer"
	"github.com/deepc-dev/deepc/ir"
)

// callComposite emits one op of composite block blk over tensor operands,
// declaring the composite on first use.
func (c *compiler) callComposite(blk *Block, pos lexer.Position, args []any, kws map[string]any) any {
	d := blk.Decl
	if len(kws) > 0 {
		c.errorf(pos, "composite block %s takes its tensors by position", blk.Name)
	}
	if len(args) != len(d.Args) {
		c.errorf(pos, "%s takes %s, got %d", blk.Name, plural(len(d.Args), "argument"), len(args))
	}
	vals := make([]*ir.Value, len(args))
	for i, a := range args {
		v, ok := a.(*ir.Value)
		if !ok {
			c.errorf(pos, "argument %s of composite block %s must be a tensor, got %s", d.Args[i].Name, blk.Name, kindOf(a))
		}
		vals[i] = v
	}
	if blk.op == nil {
		blk.op = c.declareComposite(blk)
	}
	return resultValue(c.emit(pos, blk.op, vals, nil))
}

// declareComposite elaborates blk's body once, over its signature's types
// (a name bound to nothing is a symbol, as in an exported block), into the
// decomposition of a new op.
func (c *compiler) declareComposite(blk *Block) *ir.OpDef {
	d := blk.Decl
	if d.Export {
		c.errorf(d.Pos, "block %s cannot be both exported and composite", d.Name)
	}
	savedB, savedReads := c.b, c.reads
	defer func() { c.b, c.reads = savedB, savedReads }()
	c.b = (&ir.Module{}).NewFunc(d.Name)
	c.reads = map[string]*ir.Value{}
	args := c.signatureArgs(d, "composite block")
	c.b.Return(c.tensors(d.Pos, "composite block "+d.Name, c.inline(blk, d.Pos, args, nil))...)
	op, err := ir.DeclareComposite(d.Name, c.b.F)
	if err != nil {
		c.errorf(d.Pos, "%v", err)
	}
	return op
}
