package dsl

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/deepc-dev/deepc/ir"
)

// Sizes in the module being built. maxOps counts ops, but an op can be
// made heavy: a list of a million ints as its split sizes, a list of a
// million tensors as its operands, a long string attribute, stored again
// in every op that uses it. So what ops store besides themselves (their
// operands, their results and their dims, the elements of their list
// attributes, a string attribute's bytes / 16) is counted too; and a
// tensor's rank and element count stay small enough for the stages after
// to compute with.

// maxEntries bounds the entries of the module: the full DeepSeek-V3 has
// about 9 an op, so this is 3.5 times what a model of maxOps needs.
const maxEntries = 32 * maxOps

// checkShape refuses a tensor type of rank past maxRank, or whose constant
// dims multiply past maxElems: later stages multiply them in int64
// without checking.
func (c *compiler) checkShape(pos lexer.Position, what string, t ir.Type) {
	if len(t.Shape) > maxRank {
		c.errorf(pos, "%s: rank %d is more than %d", what, len(t.Shape), maxRank)
	}
	n := uint64(1)
	for _, d := range t.Shape {
		if d.IsSym() {
			continue
		}
		hi, lo := bits.Mul64(n, uint64(d.N))
		if hi != 0 || lo > maxElems {
			c.errorf(pos, "%s: shape %s has more than 2^53 elements%s", what, clip(t.Shape.String(), 200), c.setsNote())
		}
		n = lo
	}
}

// chargeIR counts n entries that an op stores, refusing past maxEntries.
func (c *compiler) chargeIR(pos lexer.Position, n int) {
	c.entries += n
	if c.entries > maxEntries || c.entries < 0 {
		c.errorf(pos, "the module would hold more than %d dims and attribute entries (a shape, list or string attribute too large?)%s", maxEntries, c.setsNote())
	}
}

// entries counts what an attribute value stores.
func entries(a any) int {
	switch a := a.(type) {
	case []int64:
		return len(a)
	case []float64:
		return len(a)
	case ir.Shape:
		return len(a)
	case string:
		return len(a) / 16
	case ir.Attrs:
		n := len(a)
		for _, v := range a {
			n += entries(v)
		}
		return n
	}
	return 1
}

// setsNote names the --set overrides in effect, for errors about sizes:
// the value the user gave is usually the cause, far from where it is used.
func (c *compiler) setsNote() string {
	if len(c.opts.Sets) == 0 {
		return ""
	}
	var parts []string
	for _, s := range c.opts.Sets {
		parts = append(parts, "--set "+clip(s, 80))
	}
	return fmt.Sprintf(" (with %s)", clip(strings.Join(parts, ", "), 400))
}
