package dsl

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/deepc-dev/deepc/ir"
)

// Calls to names that are not blocks go to built-ins: every op of the IR op
// table (tensor operands first, then attributes by position or keyword), and
// the compile-time functions below.

// opPositional names the attributes an op takes by position after its operands.
var opPositional = map[*ir.OpDef][]string{
	ir.OpReshape: {"shape"}, ir.OpExpand: {"shape"}, ir.OpTranspose: {"perm"}, ir.OpCast: {"dtype"},
	ir.OpSplit: {"sizes", "axis"}, ir.OpSlice: {"start", "end", "axis"}, ir.OpTopK: {"k"},
	ir.OpSum: {"axis"}, ir.OpMean: {"axis"}, ir.OpReduceMax: {"axis"}, ir.OpSoftmax: {"axis"},
	ir.OpConcat: {"axis"}, ir.OpGather: {"axis"}, ir.OpTakeAlong: {"axis"}, ir.OpShift: {"offset"},
}

// opDefaults are attribute values used when a call leaves them out.
var opDefaults = map[*ir.OpDef]ir.Attrs{
	ir.OpSplit: {"axis": int64(-1)}, ir.OpSlice: {"axis": int64(-1)}, ir.OpConcat: {"axis": int64(-1)},
	ir.OpSum: {"axis": int64(-1)}, ir.OpMean: {"axis": int64(-1)}, ir.OpReduceMax: {"axis": int64(-1)},
	ir.OpSoftmax: {"axis": int64(-1)}, ir.OpGather: {"axis": int64(0)}, ir.OpTakeAlong: {"axis": int64(-1)},
}

// internalOps are not callable from the DSL: params are declared with
// `param`, constants come from scalars in expressions.
var internalOps = map[*ir.OpDef]bool{ir.OpParam: true, ir.OpConst: true}

type ctFunc func(c *compiler, pos lexer.Position, args []any, kws map[string]any) any

var ctFuncs map[string]ctFunc

func init() {
	ctFuncs = map[string]ctFunc{
		"min":       minMax(false),
		"max":       minMax(true),
		"abs":       mathFunc(math.Abs),
		"sqrt":      mathFunc(math.Sqrt),
		"log":       mathFunc(math.Log),
		"exp":       mathFunc(math.Exp),
		"int":       toInt,
		"float":     toFloat,
		"len":       length,
		"ceil_div":  ceilDiv,
		"normal":    initFunc("normal", "std"),
		"zeros":     initFunc("zeros"),
		"ones":      initFunc("ones"),
		"block":     blockQuant,
		"unsqueeze": unsqueeze,
	}
}

func (c *compiler) builtin(name string, pos lexer.Position, call *Call, sc *scope) any {
	args, kws := c.args(call, sc)
	hasTensor := slices.ContainsFunc(args, func(a any) bool { _, ok := a.(*ir.Value); return ok })
	def := ir.Lookup(name)
	if f, ok := ctFuncs[name]; ok && (def == nil || !hasTensor) {
		return f(c, pos, args, kws)
	}
	if def == nil || internalOps[def] {
		var known []string
		for _, d := range ir.Ops() {
			if !internalOps[d] {
				known = append(known, d.Name)
			}
		}
		for k := range ctFuncs {
			known = append(known, k)
		}
		c.errorf(pos, "unknown block or function %s%s", name, suggest(name, append(known, c.visible(sc)...)))
	}
	return c.callOp(def, pos, args, kws)
}

// callOp builds an op from a call: tensors (or lists of tensors) are
// operands, the rest are attributes.
func (c *compiler) callOp(def *ir.OpDef, pos lexer.Position, args []any, kws map[string]any) any {
	var operands []*ir.Value
	attrs := ir.Attrs{}
	positional := opPositional[def]
	nattr := 0
	for i, a := range args {
		switch x := a.(type) {
		case *ir.Value:
			if nattr > 0 {
				c.errorf(pos, "%s: tensor argument %d after attribute arguments", def.Name, i+1)
			}
			operands = append(operands, x)
			continue
		case List:
			if len(x) > 0 && allTensors(x) && def.Args == ir.Variadic {
				for _, t := range x {
					operands = append(operands, t.(*ir.Value))
				}
				continue
			}
		}
		if nattr >= len(positional) {
			c.errorf(pos, "%s takes %s, got an extra %s argument", def.Name, opSignature(def), kindOf(a))
		}
		c.setAttr(attrs, def, positional[nattr], a, pos)
		nattr++
	}
	for _, k := range sortedKeys(kws) {
		if !slices.Contains(def.Attrs, k) && !slices.Contains(def.Optional, k) {
			c.errorf(pos, "%s has no attribute %s (it takes %s)%s", def.Name, k, opSignature(def), suggest(k, append(slices.Clone(def.Attrs), def.Optional...)))
		}
		if _, dup := attrs[k]; dup {
			c.errorf(pos, "%s: attribute %s given twice", def.Name, k)
		}
		c.setAttr(attrs, def, k, kws[k], pos)
	}
	for k, v := range opDefaults[def] {
		if _, ok := attrs[k]; !ok {
			attrs[k] = v
		}
	}
	if def.Args != ir.Variadic && len(operands) != def.Args {
		c.errorf(pos, "%s takes %d tensor operands, got %d (it takes %s)", def.Name, def.Args, len(operands), opSignature(def))
	}
	if def.Args == ir.Variadic && len(operands) == 0 {
		c.errorf(pos, "%s takes at least one tensor operand", def.Name)
	}
	for _, k := range def.Attrs {
		if _, ok := attrs[k]; !ok {
			c.errorf(pos, "%s needs attribute %s (it takes %s)", def.Name, k, opSignature(def))
		}
	}
	return resultValue(c.emit(pos, def, operands, attrs))
}

// resultValue is an op's results as the DSL sees them: one tensor, or a
// tuple.
func resultValue(res []*ir.Value) any {
	if len(res) == 1 {
		return res[0]
	}
	tup := make(Tuple, len(res))
	for i, r := range res {
		tup[i] = r
	}
	return tup
}

func allTensors(l List) bool {
	for _, x := range l {
		if _, ok := x.(*ir.Value); !ok {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func opSignature(def *ir.OpDef) string {
	n := fmt.Sprintf("%d tensors", def.Args)
	if def.Args == ir.Variadic {
		n = "tensors"
	} else if def.Args == 1 {
		n = "1 tensor"
	}
	all := append(slices.Clone(def.Attrs), def.Optional...)
	if len(all) == 0 {
		return n
	}
	return n + " and " + strings.Join(all, ", ")
}

func (c *compiler) setAttr(attrs ir.Attrs, def *ir.OpDef, k string, v any, pos lexer.Position) {
	if v == nil {
		return // none: leave the attribute out
	}
	a, err := toAttr(v)
	if err != nil {
		c.errorf(pos, "%s: attribute %s: %v", def.Name, k, err)
	}
	if k == "shape" {
		if s, ok := a.(ir.Shape); ok {
			a = ir.ShapeAttr(s)
		}
	}
	attrs[k] = a
}

// emit builds an op at pos, turning type errors into source errors.
func (c *compiler) emit(pos lexer.Position, d *ir.OpDef, args []*ir.Value, attrs ir.Attrs) []*ir.Value {
	if c.b == nil {
		c.errorf(pos, "tensor op %s outside a function", d.Name)
	}
	c.countOp(pos)
	c.chargeIR(pos, len(args)+entries(attrs))
	c.b.Loc = c.loc(pos)
	res, err := c.b.Emit(d.Name, args, attrs)
	if err != nil {
		c.errorf(pos, "%v", err)
	}
	for _, r := range res {
		c.chargeIR(pos, 1+len(r.Type.Shape))
		c.checkShape(pos, d.Name, r.Type)
	}
	return res
}

// countOp counts one op built, refusing one past maxOps.
func (c *compiler) countOp(pos lexer.Position) {
	c.ops++
	if c.ops > maxOps {
		c.errorf(pos, "more than %d ops%s", maxOps, c.setsNote())
	}
}

func (c *compiler) emit1(pos lexer.Position, d *ir.OpDef, args []*ir.Value, attrs ir.Attrs) *ir.Value {
	return c.emit(pos, d, args, attrs)[0]
}

func number(c *compiler, pos lexer.Position, v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	c.errorf(pos, "expected a number, got %s", kindOf(v))
	return 0
}

func wantArgs(c *compiler, pos lexer.Position, name string, args []any, kws map[string]any, n int) {
	if len(args) != n || len(kws) > 0 {
		c.errorf(pos, "%s takes %d positional arguments", name, n)
	}
}

func minMax(isMax bool) ctFunc {
	return func(c *compiler, pos lexer.Position, args []any, kws map[string]any) any {
		if len(args) == 1 {
			if l, ok := args[0].(List); ok {
				args = l
			}
		}
		if len(args) == 0 || len(kws) > 0 {
			c.errorf(pos, "min and max take numbers or one list")
		}
		c.charge(len(args), pos)
		for _, a := range args {
			switch a.(type) {
			case int64, float64:
			default: // a tensor too: it would compare into a tensor, not a bool
				c.errorf(pos, "min and max take numbers or one list of numbers, got %s", kindOf(a))
			}
		}
		best := args[0]
		for _, a := range args[1:] {
			less := c.binary("<", a, best, pos).(bool)
			if less != isMax {
				best = a
			}
		}
		return best
	}
}

func mathFunc(f func(float64) float64) ctFunc {
	return func(c *compiler, pos lexer.Position, args []any, kws map[string]any) any {
		wantArgs(c, pos, "this function", args, kws, 1)
		r := f(number(c, pos, args[0]))
		if math.IsNaN(r) {
			c.errorf(pos, "result is not a number")
		}
		return r
	}
}

func toInt(c *compiler, pos lexer.Position, args []any, kws map[string]any) any {
	wantArgs(c, pos, "int", args, kws, 1)
	f := number(c, pos, args[0])
	if math.IsNaN(f) || f >= 1<<63 || f < -(1<<63) {
		c.errorf(pos, "%s does not fit an int", show(args[0]))
	}
	return int64(f)
}

func toFloat(c *compiler, pos lexer.Position, args []any, kws map[string]any) any {
	wantArgs(c, pos, "float", args, kws, 1)
	return number(c, pos, args[0])
}

func length(c *compiler, pos lexer.Position, args []any, kws map[string]any) any {
	wantArgs(c, pos, "len", args, kws, 1)
	switch x := args[0].(type) {
	case List:
		return int64(len(x))
	case Tuple:
		return int64(len(x))
	case string:
		return int64(len(x))
	}
	c.errorf(pos, "len of a %s", kindOf(args[0]))
	return nil
}

func ceilDiv(c *compiler, pos lexer.Position, args []any, kws map[string]any) any {
	wantArgs(c, pos, "ceil_div", args, kws, 2)
	a, ok1 := args[0].(int64)
	b, ok2 := args[1].(int64)
	if !ok1 || !ok2 || b <= 0 || a < 0 {
		c.errorf(pos, "ceil_div takes a non-negative int and a positive int")
	}
	return a/b + min(a%b, 1)
}

// initFunc builds an initializer description: normal(std), zeros(), ones().
func initFunc(dist string, fields ...string) ctFunc {
	return func(c *compiler, pos lexer.Position, args []any, kws map[string]any) any {
		wantArgs(c, pos, dist, args, kws, len(fields))
		s := newStruct()
		s.Set("dist", dist)
		for i, f := range fields {
			s.Set(f, number(c, pos, args[i]))
		}
		return s
	}
}

// blockQuant describes block-scaled quantization: block(rows, cols).
func blockQuant(c *compiler, pos lexer.Position, args []any, kws map[string]any) any {
	wantArgs(c, pos, "block", args, kws, 2)
	for _, a := range args {
		if n, ok := a.(int64); !ok || n <= 0 {
			c.errorf(pos, "block takes two positive ints, got %s", show(a))
		}
	}
	return List{args[0], args[1]}
}

// unsqueeze inserts a size-1 axis (a reshape).
func unsqueeze(c *compiler, pos lexer.Position, args []any, kws map[string]any) any {
	wantArgs(c, pos, "unsqueeze", args, kws, 2)
	x, ok := args[0].(*ir.Value)
	ax, ok2 := args[1].(int64)
	if !ok || !ok2 {
		c.errorf(pos, "unsqueeze takes a tensor and an int axis")
	}
	r := int64(len(x.Type.Shape)) + 1
	if ax < 0 {
		ax += r
	}
	if ax < 0 || ax >= r {
		c.errorf(pos, "axis %d out of range for rank %d", args[1], r)
	}
	s := slices.Insert(slices.Clone(x.Type.Shape), int(ax), ir.C(1))
	return c.emit1(pos, ir.OpReshape, []*ir.Value{x}, ir.Attrs{"shape": ir.ShapeAttr(s)})
}
