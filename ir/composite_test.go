package ir_test

import (
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// swigluText declares swiglu(g, u) = silu(g) * u over any [T, F] bf16
// pair and uses it once with T and F bound to a symbol and a constant.
const swigluText = `module @m {

  composite @swiglu_test(%g: [T, F] bf16, %u: [T, F] bf16) -> ([T, F] bf16) {
    %0 = silu %g : [T, F] bf16
    %1 = mul %0, %u : [T, F] bf16
    return %1
  }

  func @f(%a: [N, 8] bf16, %b: [N, 8] bf16) -> ([N, 8] bf16) {
    %0 = swiglu_test %a, %b : [N, 8] bf16
    %1 = neg %0 : [N, 8] bf16
    return %1
  }
}
`

func TestCompositeRoundTripsAndExpands(t *testing.T) {
	m := mustParse(t, swigluText)
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	if got := ir.Print(m); got != swigluText {
		t.Errorf("print(parse(text)) differs:\n%s", got)
	}
	if b, err := ir.Decode(ir.Encode(m)); err != nil || ir.Print(b) != swigluText {
		t.Errorf("the binary form does not carry the composite: %v", err)
	}
	d := ir.Lookup("swiglu_test")
	if !d.IsComposite() || d.Kind != ir.Broadcast { // mul broadcasts
		t.Fatalf("swiglu_test: composite %v, kind %v", d.IsComposite(), d.Kind)
	}
	// 8·N silu (one FLOP per element by default) and 8·N mul.
	if c := m.Funcs[0].Body[0].Cost(map[string]int64{"N": 3}); c.FLOPs != 2*24 {
		t.Errorf("FLOPs %d, want 48", c.FLOPs)
	}
	f := m.Funcs[0]
	changed, err := ir.ExpandComposites(f, nil, func(from, n *ir.Op) {
		if n.Attrs == nil {
			n.Attrs = ir.Attrs{}
		}
		n.Attrs["from"] = from.Name
	})
	if err != nil || !changed {
		t.Fatalf("changed %v, err %v", changed, err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	got := ir.Print(m)
	for _, want := range []string{"%0 = silu %a {from = \"swiglu_test\"} : [N, 8] bf16", "%1 = mul %0, %b {from = \"swiglu_test\"} : [N, 8] bf16", "%2 = neg %1"} {
		if !strings.Contains(got, want) {
			t.Errorf("expanded module lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "composite @") {
		t.Errorf("an expanded module still declares the composite:\n%s", got)
	}
}

// The type rule is the decomposition's: operands that do not fit the
// signature, or bind one symbol to two dims, are refused.
func TestCompositeTypeRule(t *testing.T) {
	mustParse(t, swigluText) // declares swiglu_test
	d := ir.Lookup("swiglu_test")
	for _, tc := range []struct {
		name string
		args []ir.Type
		want string
	}{
		{"dtype", []ir.Type{ir.T(ir.F32, ir.C(2), ir.C(8)), ir.T(ir.F32, ir.C(2), ir.C(8))}, "signature says [T, F] bf16"},
		{"rank", []ir.Type{ir.T(ir.BF16, ir.C(8)), ir.T(ir.BF16, ir.C(8))}, "signature says"},
		{"binding", []ir.Type{ir.T(ir.BF16, ir.C(2), ir.C(8)), ir.T(ir.BF16, ir.C(2), ir.C(9))}, "F is 8 and 9"},
		{"arity", []ir.Type{ir.T(ir.BF16, ir.C(2), ir.C(8))}, "takes 2 operands"},
	} {
		if _, err := d.Infer(tc.args, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	res, err := d.Infer([]ir.Type{ir.T(ir.BF16, ir.S("T"), ir.C(4)), ir.T(ir.BF16, ir.S("T"), ir.C(4))}, nil)
	if err != nil || len(res) != 1 || !res[0].Equal(ir.T(ir.BF16, ir.S("T"), ir.C(4))) {
		t.Errorf("got %v, %v", res, err)
	}
}

// Symbols bound by the operands are substituted in the body's shape
// attributes: a reshape to [T*F] works for every use.
func TestCompositeSubstitutesShapeAttrs(t *testing.T) {
	m := mustParse(t, `module @m {
  composite @flat_neg_test(%x: [T, 4] f32) -> ([T, 4] f32) {
    %0 = neg %x : [T, 4] f32
    %1 = transpose %0 {perm = [1, 0]} : [4, T] f32
    %2 = transpose %1 {perm = [1, 0]} : [T, 4] f32
    %3 = expand %2 {shape = [T, 4]} : [T, 4] f32
    return %3
  }

  func @f(%a: [3, 4] f32) -> ([3, 4] f32) {
    %0 = flat_neg_test %a : [3, 4] f32
    return %0
  }
}
`)
	f := m.Funcs[0]
	if _, err := ir.ExpandComposites(f, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatalf("%v\n%s", err, ir.Print(m))
	}
	if got := ir.Print(m); !strings.Contains(got, "expand %2 {shape = [3, 4]} : [3, 4] f32") {
		t.Errorf("shape attribute not instantiated:\n%s", got)
	}
}

func TestDeclareCompositeRefusals(t *testing.T) {
	body := func(src string) *ir.Func {
		return mustParse(t, "module @m {\n"+src+"\n}\n").Funcs[0]
	}
	neg := body(`  func @b(%x: [4] f32) -> ([4] f32) {
    %0 = neg %x : [4] f32
    return %0
  }`)
	abs := body(`  func @b(%x: [4] f32) -> ([4] f32) {
    %0 = abs %x : [4] f32
    return %0
  }`)
	withParam := body(`  func @b(%x: [4] f32) -> ([4] f32) {
    %0 = param {name = "w"} : [4] f32
    %1 = mul %x, %0 : [4] f32
    return %1
  }`)
	if _, err := ir.DeclareComposite("redeclared_test", neg); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body *ir.Func
		want string
	}{
		{"redeclared_test", neg, ""}, // the same body again is fine
		{"redeclared_test", abs, "already declared with another decomposition"},
		{"neg", neg, "is a built-in op"},
		{"Bad-Name", neg, "a name is a lower-case letter"},
		{"param_test", withParam, "param has no type rule"},
		{"empty_test", &ir.Func{Name: "b"}, "returns nothing"},
	} {
		_, err := ir.DeclareComposite(tc.name, tc.body)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	// The text form reports a refused declaration where it is.
	_, err := ir.Parse("x.ir", "module @m {\n  composite @neg(%x: [4] f32) -> ([4] f32) {\n    %0 = abs %x : [4] f32\n    return %0\n  }\n}\n")
	if err == nil || !strings.Contains(err.Error(), "x.ir:2:3") || !strings.Contains(err.Error(), "built-in op") {
		t.Errorf("got %v", err)
	}
}
