package passes

import (
	"strconv"
	"strings"

	"github.com/deepc-dev/deepc/ir"
)

func init() {
	Register(NewPass("cse", "merge identical pure ops (same op, operands, attributes and result types)", PerFunc(cse)))
}

// cse keeps the first of each set of identical pure ops and points the
// others' uses at it. One forward sweep suffices: operands are merged before
// their users are compared. Two `param` ops reading the same parameter are
// identical by this rule, as they should be. Locations are not compared; the
// survivor keeps its own.
func cse(_ *Context, f *ir.Func) (bool, error) {
	ids := valueIDs{}
	seen := map[string]*ir.Op{}
	ed := ir.NewEditor(f)
	changed := false
	for _, op := range f.Body {
		if !op.Pure() {
			continue
		}
		key := ids.key(op)
		first, ok := seen[key]
		if !ok {
			seen[key] = op
			continue
		}
		for i, r := range op.Results {
			ed.ReplaceAllUses(r, first.Results[i])
		}
		ed.Erase(op)
		changed = true
	}
	return changed, ed.Commit()
}

// valueIDs numbers values so an op's operands can be part of a string key.
type valueIDs map[*ir.Value]int

func (ids valueIDs) id(v *ir.Value) int {
	n, ok := ids[v]
	if !ok {
		n = len(ids)
		ids[v] = n
	}
	return n
}

// key identifies an op up to identity of its results: name, operands,
// attributes (printed, so equal values give equal text) and result types.
func (ids valueIDs) key(op *ir.Op) string {
	var b strings.Builder
	b.WriteString(op.Name)
	for _, a := range op.Args {
		b.WriteString(" %")
		b.WriteString(strconv.Itoa(ids.id(a)))
	}
	b.WriteString(" ")
	b.WriteString(op.Attrs.String())
	for _, t := range op.ResultTypes() {
		b.WriteString(" : ")
		b.WriteString(t.String())
	}
	return b.String()
}
