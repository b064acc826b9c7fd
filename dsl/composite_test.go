package dsl

import (
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// A composite block is one op in the compiled module, declared with the
// block's body as its decomposition over the signature's symbols, and
// used at each call with the caller's shapes.
func TestCompositeBlock(t *testing.T) {
	m, err := CompileSource("c.deep", `model c
config { d = 8, w = 16 }

composite block gate_dsl_test(g: [T, F] f32, u: [T, F] f32) -> [T, F] f32 {
  return silu(g) * u
}

export block forward(x: [T, d] f32) -> [T, w] f32 {
  param a: [w, d] f32 {init = normal(0.02), ckpt = "a"}
  param b: [w, d] f32 {init = normal(0.02), ckpt = "b"}
  return gate_dsl_test(linear(x, a), linear(x, b))
}
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	text := ir.Print(m)
	for _, want := range []string{
		"composite @gate_dsl_test(%g: [T, F] f32, %u: [T, F] f32) -> ([T, F] f32) {",
		"%4 = gate_dsl_test %2, %3 : [T, 16] f32 loc(\"c.deep\":11:10)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("module lacks %q:\n%s", want, text)
		}
	}
}

func TestCompositeBlockErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`composite block reads_param_dsl_test(x: [T, 4] f32) -> [T, 4] f32 {
  param w: [4] f32 {init = normal(0.02), ckpt = "w"}
  return x * w
}
export block forward(x: [T, 4] f32) -> [T, 4] f32 { return reads_param_dsl_test(x) }`, "param has no type rule"},
		{`composite block silu(x: [T, 4] f32) -> [T, 4] f32 { return x }
export block forward(x: [T, 4] f32) -> [T, 4] f32 { return silu(x) }`, "silu is a built-in op"},
		{`composite block two_dsl_test(x: [T, 4] f32, n: int) -> [T, 4] f32 { return x }
export block forward(x: [T, 4] f32) -> [T, 4] f32 { return two_dsl_test(x, 3) }`, "argument n of composite block two_dsl_test must be a tensor"},
		{`composite block kw_dsl_test(x: [T, 4] f32) -> [T, 4] f32 { return x }
export block forward(x: [T, 4] f32) -> [T, 4] f32 { return kw_dsl_test(x = x) }`, "takes its tensors by position"},
	} {
		_, err := CompileSource("e.deep", "model e\n"+tc.src+"\n", Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "e.deep:") {
			t.Errorf("got %v, want %q at a position", err, tc.want)
		}
	}
}

// A composite block may call another: each is declared once, the outer
// one's body holding the inner op.
func TestNestedCompositeBlocks(t *testing.T) {
	m, err := CompileSource("n.deep", `model n
composite block inner_dsl_test(x: [T, 4] f32) -> [T, 4] f32 { return silu(x) }
composite block outer_dsl_test(x: [T, 4] f32) -> [T, 4] f32 { return inner_dsl_test(inner_dsl_test(x)) }
export block forward(x: [T, 4] f32) -> [T, 4] f32 { return outer_dsl_test(x) }
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	text := ir.Print(m)
	for _, want := range []string{"composite @inner_dsl_test(", "composite @outer_dsl_test(", "= inner_dsl_test %0", "= outer_dsl_test %x"} {
		if !strings.Contains(text, want) {
			t.Errorf("module lacks %q:\n%s", want, text)
		}
	}
}
