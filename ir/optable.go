package ir

import (
	"fmt"
	"slices"
)

// Kind is an op's fusion class, used by fusion passes and the scheduler.
type Kind uint8

const (
	Elementwise Kind = iota // out[i] = f(in[i]); shapes equal
	Broadcast               // elementwise with numpy broadcasting
	Injective               // data movement: each output element reads one input element
	Reduction               // reduces along an axis
	Opaque                  // anything else (GEMMs, attention, routing)
)

var kindNames = [...]string{"elementwise", "broadcast", "injective", "reduction", "opaque"}

func (k Kind) String() string { return kindNames[k] }

// OpDef declares one op: everything a layer needs to know about it without
// knowing what it computes. Each op's OpDef is an exported handle (OpAdd,
// OpRMSNorm, ...): other layers key their own tables by it (gradient rules,
// CPU kernels, emitters, float64 semantics) so that a misspelt op does not
// compile, and internal/opfaces tests their completeness against Ops().
// Name is the op's serialized form (the text IR, the plugin protocol).
type OpDef struct {
	Name string
	Kind Kind
	// Args is the operand count; Variadic means at least one.
	Args int
	// Attrs lists the attributes the op requires (checked by the verifier);
	// optional attributes are read with defaults by Infer.
	Attrs []string
	// Optional lists the attributes the op also understands.
	Optional []string
	Doc      string
	// Infer computes result types from operand types and attributes. It is nil
	// for ops whose result type is given by the printed signature (param).
	Infer func(args []Type, attrs Attrs) ([]Type, error)
	// FLOPs counts floating-point operations for bound symbols; nil means one
	// per result element.
	FLOPs func(args, results []Type, attrs Attrs, env map[string]int64) int64
	// Pure ops can be removed when unused and merged when identical.
	Pure bool
	// Linear ops compute each float result as a sum of products of float
	// operand elements and constants (sums, means, GEMMs, add, mul, data
	// movement, casts): run on the magnitudes of their operands they give
	// the scale of their rounding error, which is how a kernel's result is
	// judged where it cancels to nearly zero (device.CompareBackend).
	Linear bool
	// Body is a composite op's decomposition (see DeclareComposite); nil
	// for the built-in ops.
	Body *Func
}

// Variadic marks an op that takes one or more operands.
const Variadic = -1

var opTable = map[string]*OpDef{}
var opOrder []*OpDef

// declare enters d in the op table. The handles call it from package-level
// variable initializers, which run (before any init) in file order and then
// declaration order: that is the order of Ops().
func declare(d *OpDef) *OpDef {
	if _, dup := opTable[d.Name]; dup {
		panic("ir: op declared twice: " + d.Name)
	}
	d.Pure = true
	opTable[d.Name] = d
	opOrder = append(opOrder, d)
	return d
}

// Lookup finds an op by name: a built-in op, or a declared composite.
func Lookup(name string) *OpDef {
	if d := opTable[name]; d != nil {
		return d
	}
	return lookupComposite(name)
}

// Ops lists every built-in op in declaration order.
func Ops() []*OpDef { return slices.Clone(opOrder) }

// Cost is an op's work for bound symbols.
type Cost struct{ FLOPs, Bytes int64 }

// Cost evaluates the op's FLOPs and the bytes it reads and writes with the
// symbols in env bound. Unbound symbols count as zero-sized.
func (o *Op) Cost(env map[string]int64) Cost {
	var c Cost
	for _, t := range append(o.ArgTypes(), o.ResultTypes()...) {
		n, _ := t.Shape.Eval(env)
		c.Bytes += n * t.DType.Bytes()
	}
	d := o.Def()
	if d == nil {
		return c
	}
	if d.FLOPs != nil {
		c.FLOPs = d.FLOPs(o.ArgTypes(), o.ResultTypes(), o.Attrs, env)
	} else {
		for _, t := range o.ResultTypes() {
			n, _ := t.Shape.Eval(env)
			c.FLOPs += n
		}
	}
	return c
}

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func one(t Type) []Type { return []Type{t} }

func noFLOPs([]Type, []Type, Attrs, map[string]int64) int64 { return 0 }

// perElement returns a FLOPs rule of k operations per result element.
func perElement(k int64) func([]Type, []Type, Attrs, map[string]int64) int64 {
	return func(_, res []Type, _ Attrs, env map[string]int64) int64 {
		n, _ := res[0].Shape.Eval(env)
		return k * n
	}
}
