package codegen

import (
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// An op of a per-op family with no rule in the family's tables is one
// codegen cannot emit; an op with one, or one its emitter handles itself,
// is not.
func TestEmitterLacksRule(t *testing.T) {
	madeUp := &ir.OpDef{Name: "made_up", Kind: ir.Elementwise} // not registered
	for _, c := range []struct {
		family string
		d      *ir.OpDef
		want   string
	}{
		{"pointwise", madeUp, "no scalarRules entry"},
		{"rows", madeUp, "no rowRules entry"},
		{"movement", madeUp, "no moveRules or moveSpecial entry"},
		{"no_such_family", madeUp, `no emitter for kernel family "no_such_family"`},
		{"pointwise", ir.OpExp, ""},
		{"rows", ir.OpSoftmax, ""},
		{"movement", ir.OpTranspose, ""},
		{"movement", ir.OpSplit, ""},   // moveSpecial
		{"movement", ir.OpKVWrite, ""}, // moveSpecial
		{"gemm", madeUp, ""},           // gemm emits its own ops
	} {
		if got := emitterLacks(c.family, c.d); got != c.want {
			t.Errorf("emitterLacks(%s, %s) = %q, want %q", c.family, c.d.Name, got, c.want)
		}
	}
	if family, lacks := EmitterFamily(madeUp); family != "pointwise" || lacks != "no scalarRules entry" {
		t.Errorf("EmitterFamily(made-up elementwise op) = %q, %q; want pointwise, no scalarRules entry", family, lacks)
	}
}
