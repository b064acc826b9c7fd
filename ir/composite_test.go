package ir_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

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

// Composites may use composites: declared, verified, expanded to the
// bottom. (Declaring one used to wait forever on the table's lock.)
func TestNestedComposites(t *testing.T) {
	type parsed struct {
		m   *ir.Module
		err error
	}
	done := make(chan parsed)
	go func() {
		m, err := ir.Parse("nested.ir", `module @m {

  composite @inner_nest_test(%x: [T] f32) -> ([T] f32) {
    %0 = neg %x : [T] f32
    return %0
  }

  composite @outer_nest_test(%x: [T] f32) -> ([T] f32) {
    %0 = inner_nest_test %x : [T] f32
    %1 = inner_nest_test %0 : [T] f32
    return %1
  }

  func @f(%a: [4] f32) -> ([4] f32) {
    %0 = outer_nest_test %a : [4] f32
    return %0
  }
}
`)
		done <- parsed{m, err}
	}()
	var m *ir.Module
	select {
	case p := <-done:
		if p.err != nil {
			t.Fatal(p.err)
		}
		m = p.m
	case <-time.After(10 * time.Second):
		t.Fatal("declaring a composite that uses another does not return")
	}
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	if _, err := ir.ExpandComposites(m.Funcs[0], nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := ir.Print(m); strings.Count(got, "= neg") != 2 || strings.Contains(got, "nest_test %") {
		t.Errorf("not expanded to two negs:\n%s", got)
	}
}

// Hostile declarations are refused with an error, not a panic, a hang or
// an exponential blow-up.
func TestCompositeDeclarationLimits(t *testing.T) {
	// e_i uses e_{i-1} twice: 2^i ops once expanded.
	var b strings.Builder
	b.WriteString("module @m {\n")
	for i := 0; i <= 20; i++ {
		fmt.Fprintf(&b, "\n  composite @exp%d_limit_test(%%x: [4] f32) -> ([4] f32) {\n", i)
		if i == 0 {
			b.WriteString("    %0 = neg %x : [4] f32\n    %1 = neg %0 : [4] f32\n")
		} else {
			fmt.Fprintf(&b, "    %%0 = exp%d_limit_test %%x : [4] f32\n    %%1 = exp%d_limit_test %%0 : [4] f32\n", i-1, i-1)
		}
		b.WriteString("    return %1\n  }\n")
	}
	b.WriteString("}\n")
	start := time.Now()
	_, err := ir.Parse("exp.ir", b.String())
	if err == nil || !strings.Contains(err.Error(), "once the composites in it are expanded, more than 4096") {
		t.Errorf("got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing took %v", d)
	}
	for _, tc := range []struct{ src, want string }{
		// more results than the op's type rule gives
		{"composite @xr_limit_test(%x: [4] f32) -> ([4] f32) {\n    %0, %1 = neg %x : [4] f32, [4] f32\n    return %1\n  }", "has 2 results"},
		// a symbol no operand binds
		{"composite @cap_limit_test(%x: [1, 4] f32) -> ([Z, 4] f32) {\n    %0 = expand %x {shape = [Z, 4]} : [Z, 4] f32\n    return %0\n  }", "symbol Z that no argument binds"},
		// a name the lexer reads as a number
		{"composite @nan(%x: [4] f32) -> ([4] f32) {\n    %0 = neg %x : [4] f32\n    return %0\n  }", "not inf or nan"},
	} {
		_, err := ir.Parse("bad.ir", "module @m {\n  "+tc.src+"\n}\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	bad := &ir.Func{Name: "b", Args: []*ir.Value{{Name: "a b", Type: ir.T(ir.F32, ir.C(4))}}}
	bad.Results = bad.Args
	if _, err := ir.DeclareComposite("argname_limit_test", bad); err == nil || !strings.Contains(err.Error(), "bad or repeated name") {
		t.Errorf("an argument named %q: got %v", "a b", err)
	}
}

// Only a one-result body whose values all have the result's shape is
// elementwise: codegen emits such a composite over its result's elements.
func TestCompositeKind(t *testing.T) {
	mustParse(t, `module @m {

  composite @two_kind_test(%x: [T, 64] f32, %y: [T, 8] f32) -> ([T, 64] f32, [T, 8] f32) {
    %0 = silu %x : [T, 64] f32
    %1 = silu %y : [T, 8] f32
    return %0, %1
  }

  composite @bcast_kind_test(%x: [4] f32, %y: [T, 4] f32) -> ([T, 4] f32) {
    %0 = silu %x : [4] f32
    %1 = mul %0, %y : [T, 4] f32
    return %1
  }

  composite @gate_kind_test(%x: [T, 4] f32, %y: [T, 4] f32) -> ([T, 4] f32) {
    %0 = silu %x : [T, 4] f32
    %1 = mul %0, %y : [T, 4] f32
    return %1
  }
}
`)
	for name, want := range map[string]ir.Kind{"two_kind_test": ir.Opaque, "bcast_kind_test": ir.Opaque, "gate_kind_test": ir.Broadcast} {
		if got := ir.Lookup(name).Kind; got != want {
			t.Errorf("%s: kind %v, want %v", name, got, want)
		}
	}
}
