package codegen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
)

// What codegen needs to emit an op, for internal/opfaces' face test.

// EmitterFamily returns the kernel family that emits a region started by
// op d (passes.KernelKindOf) and what codegen lacks to emit d there: ""
// when it has the family's emitter and, where that emitter works op by op
// through a table of rules (perOpRules), d's entry in one of them. An op
// with no family needs no kernel (passes.NoKernel says why).
func EmitterFamily(d *ir.OpDef) (family, lacks string) {
	family = passes.KernelKindOf(d)
	return family, emitterLacks(family, d)
}

// emitterLacks says what codegen lacks to emit op d in a region of kind
// family ("" for nothing).
func emitterLacks(family string, d *ir.OpDef) string {
	_, single := emitters[family]
	_, multi := multiPhase[family]
	if !single && !multi {
		return fmt.Sprintf("no emitter for kernel family %q", family)
	}
	tables, ok := perOpRules[family]
	if !ok || slices.ContainsFunc(tables, func(t ruleTable) bool { return t.has(d) }) {
		return ""
	}
	var names []string
	for _, t := range tables {
		names = append(names, t.name)
	}
	return "no " + strings.Join(names, " or ") + " entry"
}

// ruleTable is one table of per-op rules, by its variable's name.
type ruleTable struct {
	name string
	has  func(*ir.OpDef) bool
}

func rulesIn[V any](name string, m map[*ir.OpDef]V) ruleTable {
	return ruleTable{name, func(d *ir.OpDef) bool { _, ok := m[d]; return ok }}
}

// perOpRules are the families whose emitter looks each op up in tables of
// rules: the op needs an entry in one of them. The other families' emitters
// each handle their own ops.
var perOpRules = map[string][]ruleTable{
	"pointwise": {rulesIn("scalarRules", scalarRules)},
	"rows":      {rulesIn("rowRules", rowRules)},
	"movement":  {rulesIn("moveRules", moveRules), rulesIn("moveSpecial", moveSpecial)},
}
