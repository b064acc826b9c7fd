package dsl

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// checkBounds makes every loop iteration check the preflight's lower bound
// until the test ends, and records the bound of each loop by its variable.
func checkBounds(t *testing.T) map[string]int64 {
	seen := map[string]int64{}
	iterationBuilt = func(s *ForStmt, bound int64, built int) {
		seen[s.Var] = bound
		if int64(built) < bound {
			panic(fmt.Sprintf("loop at %s built %d ops in an iteration, below its lower bound %d", s.Pos, built, bound))
		}
	}
	t.Cleanup(func() { iterationBuilt = nil })
	return seen
}

// The lower bound counts what surely runs and nothing else. Each case runs
// a few iterations, checking that the bound holds and what it is.
func TestMinOpsBound(t *testing.T) {
	const prelude = `model m
config {
  c = 2
  d = 4
}
block twice(x: [T, d] f32) -> [T, d] f32 {
  return x + x
}
block maybe(x) {
  return x
}
export block g(x: [T, d] f32) {
  for i in 0..3 {
%s
  }
  return x
}
`
	for _, tc := range []struct {
		body string
		want int64
	}{
		{"x = x + x", 1},
		{"x = x + 1", 2}, // a constant, then the add
		{"x = x * c", 2}, // a config value is never a tensor
		{"x = exp(x) + 1", 3},
		{"y = exp(2.0)\nx = x + y", 1}, // exp of a number is computed now
		{"x = -x\nx = -(-x)", 3},
		{"x = twice(x)", 1},
		{"x = twice(twice(x))", 2},
		{"x = maybe(x) + x", 1}, // maybe returns anything: its + counts once
		{"y = [exp(x), sigmoid(x)]\nx = unsqueeze(x, 0)\nx = reshape(x, [T, 4])", 4},
		{"if i == 0 {\n x = exp(exp(x))\n} else {\n x = exp(x)\n}\nx = x + x", 2},
		{"if i == 0 {\n x = exp(x)\n}\nx = x + x", 1},
		{"if i == 0 {\n y = x\n} else {\n y = 1\n}\nx = x + y", 1},              // y may be an int
		{"b = true or exp(x) == x\nx = x + x", 1},                               // or may stop at its left
		{"for j in 0..2 {\n x = x + x\n}\nx = x + x", 3},                        // constant bounds: 2 trips
		{"for j in 0..c {\n x = x + x\n}", 2},                                   // c is config
		{"for j in 0..i {\n x = x + x\n}\nx = x + x", 1},                        // may run no iteration
		{"for j in 0..2**62 {\n if j == 2 {\n  return x\n }\n x = x + x\n}", 0}, // may return
		{"z = x\nz = 1\nx = x + z + 1", 3},                                      // z is unknown after its last assignment
		{"f = twice\nx = f(x) + 1", 0},                                          // a call through a local may reach anything
		{"param w: [d] f32 {ckpt = \"w{i}\"}\nx = x * w", 1},                    // a param read is not counted
		{"x = x + x\nif i == 5 {\n return x\n}", 0},                             // a loop that may return is not bounded
	} {
		seen := checkBounds(t)
		if _, err := CompileSource("m.deep", fmt.Sprintf(prelude, tc.body), Options{}); err != nil {
			t.Errorf("%q: %v", tc.body, err)
			continue
		}
		if seen["i"] != tc.want {
			t.Errorf("%q: bound %d, want %d", tc.body, seen["i"], tc.want)
		}
	}
}

// Loops nested 150 deep, each preflighted at every entry and each finding
// its facts as a fixpoint (a pass per name lost): the preflights stay fast.
func TestMinOpsNestedLoops(t *testing.T) {
	var b strings.Builder
	b.WriteString("model m\nexport block g(x: [T, 4] f32) {\n  a = x\n  b = x\n  c = x\n")
	const depth = 150
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "for i%d in 0..1 {\n", i)
	}
	for i := 0; i < depth; i++ {
		b.WriteString(" a = b\n b = c\n c = 1\n}\n")
	}
	b.WriteString("  return x\n}\n")
	checkBounds(t)
	start := time.Now()
	if _, err := CompileSource("m.deep", b.String(), Options{}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("took %v", took)
	}
}
