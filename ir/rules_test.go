package ir_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

func TestPatternCaptures(t *testing.T) {
	m := mustParse(t, `module @m {
  func @f(%x: [4] f32, %y: [4] f32) -> ([4] f32, [4] f32, [4] f32) {
    %0 = neg %x : [4] f32
    %1 = sub %0, %0 : [4] f32
    %2 = sub %0, %y : [4] f32
    %3 = abs %x : [4] f32
    %4 = sub %3, %3 : [4] f32
    return %1, %2, %4
  }
}
`)
	f := m.Funcs[0]
	same := ir.P(ir.OpSub, ir.P(ir.OpNeg, ir.Any("x")).As("n"), ir.Any("n"))
	for i, want := range []bool{false, true, false, false, false} {
		op := f.Body[i]
		mt, ok := same.Match(op.Result())
		if ok != want {
			t.Errorf("%s: matched %v, want %v", op.Name, ok, want)
			continue
		}
		if ok && (mt.V("x") != f.Args[0] || mt.Op("n") != f.Body[0] || mt.Root != op) {
			t.Errorf("captures: x=%v n=%v root=%v", mt.V("x"), mt.Op("n"), mt.Root)
		}
	}
	if _, ok := ir.OneOf([]*ir.OpDef{ir.OpAbs, ir.OpNeg}).Match(f.Body[3].Result()); !ok {
		t.Error("OneOf(abs, neg) did not match abs")
	}
	if _, ok := ir.P(ir.OpNeg).Match(f.Args[0]); ok {
		t.Error("an op pattern matched a function argument")
	}
	if _, ok := ir.P(ir.OpSub, ir.Any("a"), ir.Any("b")).If(func(*ir.Value) bool { return false }).Match(f.Body[2].Result()); ok {
		t.Error("a false condition matched")
	}
}

func TestIsSplat(t *testing.T) {
	m := mustParse(t, `module @m {
  func @f() -> ([4] f32) {
    %0 = const {dtype = f32, value = 1.0} : [] f32
    %1 = expand %0 {shape = [4]} : [4] f32
    %2 = reshape %1 {shape = [2, 2]} : [2, 2] f32
    %3 = const {dtype = f32, value = 2.0} : [] f32
    return %1
  }
}
`)
	b := m.Funcs[0].Body
	for i, want := range []bool{true, true, true, false} {
		if got := ir.IsSplat(b[i].Result(), 1); got != want {
			t.Errorf("%%%d: IsSplat(1) = %v, want %v", i, got, want)
		}
	}
}

// negNeg: neg(neg(x)) = x, the smallest useful rule.
var negNeg = ir.Rule{Name: "neg-neg", Pat: ir.P(ir.OpNeg, ir.P(ir.OpNeg, ir.Any("x"))), Rewrite: func(_ *ir.Rewriter, m *ir.Match) *ir.Value { return m.V("x") }}

func TestRulesReachFixedPoint(t *testing.T) {
	m := mustParse(t, `module @m {
  func @f(%x: [4] f32) -> ([4] f32) {
    %0 = neg %x : [4] f32
    %1 = neg %0 : [4] f32
    %2 = neg %1 : [4] f32
    %3 = neg %2 : [4] f32
    %4 = abs %3 : [4] f32
    return %4
  }
}
`)
	changed, err := ir.NewRules(negNeg).ApplyModule(m)
	if err != nil || !changed {
		t.Fatalf("changed %v, err %v", changed, err)
	}
	// The dead negs stay for dce; abs now reads x.
	if got := ir.Print(m); !strings.Contains(got, "abs %x") {
		t.Errorf("abs does not read x:\n%s", got)
	}
	changed, err = ir.NewRules(negNeg).ApplyModule(m)
	if err != nil || changed {
		t.Errorf("second application: changed %v, err %v", changed, err)
	}
}

// Rules that undo each other are caught instead of looping forever.
func TestRulesBound(t *testing.T) {
	m := mustParse(t, `module @m {
  func @f(%x: [4] f32) -> ([4] f32) {
    %0 = neg %x : [4] f32
    return %0
  }
}
`)
	renew := ir.Rule{Name: "renew", Pat: ir.P(ir.OpNeg, ir.Any("x")), Rewrite: func(rw *ir.Rewriter, m *ir.Match) *ir.Value {
		return rw.Op(ir.OpNeg, []*ir.Value{m.V("x")}, nil)
	}}
	_, err := ir.NewRules(renew).ApplyModule(m)
	if err == nil || !strings.Contains(err.Error(), "func @f: rules did not reach a fixed point (rule renew still applies at") {
		t.Errorf("got %v", err)
	}
}

// A rule that builds ops and then declines leaves nothing behind.
func TestDecliningRuleLeavesNoOps(t *testing.T) {
	m := mustParse(t, `module @m {
  func @f(%x: [4] f32) -> ([4] f32) {
    %0 = neg %x : [4] f32
    return %0
  }
}
`)
	before := ir.Print(m)
	decline := ir.Rule{Name: "decline", Pat: ir.P(ir.OpNeg, ir.Any("x")), Rewrite: func(rw *ir.Rewriter, m *ir.Match) *ir.Value {
		rw.Op(ir.OpNeg, []*ir.Value{m.V("x")}, nil)
		return nil
	}}
	changed, err := ir.NewRules(decline).ApplyModule(m)
	if err != nil || changed || ir.Print(m) != before {
		t.Errorf("changed = %v, err = %v:\n%s", changed, err, ir.Print(m))
	}
}

// A rule whose builder fails stops the driver with the rule's name and
// location, and the function stays valid.
func TestRuleBuilderErrorIsReported(t *testing.T) {
	m := mustParse(t, `module @m {
  func @f(%x: [4] f32) -> ([4] f32) {
    %0 = neg %x : [4] f32 loc("a.deep":7:3)
    return %0
  }
}
`)
	bad := ir.Rule{Name: "bad", Pat: ir.P(ir.OpNeg, ir.Any("x")), Rewrite: func(rw *ir.Rewriter, m *ir.Match) *ir.Value {
		return rw.Reshape(m.V("x"), ir.C(5))
	}}
	_, err := ir.NewRules(bad).ApplyModule(m)
	if err == nil || !strings.Contains(err.Error(), "func @f: rule bad at a.deep:7:3: reshape") {
		t.Errorf("got %v", err)
	}
	if err := ir.Verify(m); err != nil {
		t.Errorf("function left invalid: %v", err)
	}
}

// Only single-result ops are roots: the driver replaces one value.
func TestRulesSkipMultiResultRoots(t *testing.T) {
	m := mustParse(t, `module @m {
  func @f(%x: [4] f32) -> ([2] f32) {
    %0, %1 = split %x {axis = 0, sizes = [2, 2]} : [2] f32, [2] f32
    return %0
  }
}
`)
	tried := false
	r := ir.Rule{Name: "any", Pat: ir.P(ir.OpSplit), Rewrite: func(_ *ir.Rewriter, m *ir.Match) *ir.Value { tried = true; return nil }}
	if _, err := ir.NewRules(r).ApplyModule(m); err != nil || tried {
		t.Errorf("err %v, tried %v", err, tried)
	}
}

// A rule must replace a value by one of its type: a broadcasting
// replacement would verify and silently compute something else.
func TestRuleReplacementKeepsType(t *testing.T) {
	m := mustParse(t, `module @m {
  func @f(%x: [4, 8] f32) -> ([4, 8] f32) {
    %0 = neg %x : [4, 8] f32
    %1 = add %0, %x : [4, 8] f32
    return %1
  }
}
`)
	sum := ir.Rule{Name: "shrink", Pat: ir.P(ir.OpNeg, ir.Any("x")), Rewrite: func(rw *ir.Rewriter, mt *ir.Match) *ir.Value {
		return rw.Op(ir.OpSum, []*ir.Value{mt.V("x")}, ir.Attrs{"axis": int64(1), "keepdim": true})
	}}
	_, err := ir.NewRules(sum).ApplyModule(m)
	if err == nil || !strings.Contains(err.Error(), "rule shrink at <unknown> replaces a [4, 8] f32 value by a [4, 1] f32 one") {
		t.Errorf("got %v", err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "rule bad: a nil pattern") {
			t.Errorf("a nil sub-pattern: recovered %v", r)
		}
	}()
	ir.NewRules(ir.Rule{Name: "bad", Pat: ir.P(ir.OpNeg, nil), Rewrite: sum.Rewrite})
}

// A rule that returns the matched op's own result declines.
func TestRuleReturningRootDeclines(t *testing.T) {
	m := mustParse(t, chain)
	before := ir.Print(m)
	self := ir.Rule{Name: "self", Pat: ir.P(ir.OpNeg, ir.Any("x")), Rewrite: func(rw *ir.Rewriter, mt *ir.Match) *ir.Value {
		rw.Op(ir.OpAbs, []*ir.Value{mt.V("x")}, nil) // built, then dropped
		return mt.Root.Result()
	}}
	changed, err := ir.NewRules(self).ApplyModule(m)
	if err != nil || changed || ir.Print(m) != before {
		t.Errorf("changed %v, err %v:\n%s", changed, err, ir.Print(m))
	}
}
