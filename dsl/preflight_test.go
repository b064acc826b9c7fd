package dsl

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Overrides that make the models huge fail before the IR is built: fast,
// in little memory, and naming the key. `n_layers=2**62` and
// `mtp_depth=1000000` unrolled layers until the op limit tripped, after
// gigabytes of IR.
func TestHugeOverridesFailFast(t *testing.T) {
	checkBounds(t)
	cases := []struct{ set, want string }{
		{"n_layers=2**62", "would run 4611686018427387904 times"},
		{"n_layers=2**40", "would run 1099511627776 times"},
		{"n_layers=100000", "build at least"},
		{"n_layers=1000000", "build at least"},
		{"mtp_depth=1000000", "build at least"},
		{"mtp_depth=2**62", "would run 4611686018427387904 times"},
		{"dim=2**40", "more than 2^53 elements"},
		{"vocab_size=2**50", "more than 2^53 elements"},
		{"moe_inter_dim=2**45", "more than 2^53 elements"},
		{"n_routed_experts=2**40", "more than 2^53 elements"},
		{"n_layers=2**63", "integer overflow"}, // 2**63 does not fit an int
	}
	for _, model := range []string{"../models/deepseek_v3.deep", "../models/deepseek_v3_tiny.deep"} {
		for _, tc := range cases {
			t.Run(strings.TrimPrefix(model, "../models/")+"/"+tc.set, func(t *testing.T) {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				start := time.Now()
				_, err := CompileFile(model, Options{Sets: []string{tc.set}})
				took := time.Since(start)
				runtime.ReadMemStats(&after)
				var e *Error
				if !errors.As(err, &e) || !strings.Contains(e.Msg, tc.want) {
					t.Fatalf("want an error saying %q, got %v", tc.want, err)
				}
				key, _, _ := strings.Cut(tc.set, "=")
				if !strings.Contains(err.Error(), key) {
					t.Errorf("error does not name %s:\n%s", key, err)
				}
				if e.Line < 1 || e.Col < 1 {
					t.Errorf("error not positioned: %s", err)
				}
				if took > 10*time.Second {
					t.Errorf("took %v", took)
				}
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 200<<20 {
					t.Errorf("allocated %d MB", alloc>>20)
				}
			})
		}
	}
}

// The lower bound is sound on the real models: every iteration of every
// loop builds at least what the preflight promised (checkBounds panics
// otherwise), and the bound is not trivially zero.
func TestMinOpsOnModels(t *testing.T) {
	checkBounds(t)
	for _, sets := range [][]string{
		nil,
		{"n_layers=12", "mtp_depth=3"},
		{"q_lora_rank=0", "score_func=\"softmax\"", "rope_scaling=none"},
		{"n_dense_layers=0"},
		{"n_dense_layers=4"},
	} {
		for _, model := range []string{"../models/deepseek_v3.deep", "../models/deepseek_v3_tiny.deep"} {
			if _, err := CompileFile(model, Options{Sets: sets}); err != nil {
				t.Fatalf("%s %v: %v", model, sets, err)
			}
		}
	}
	seen := checkBounds(t)
	if _, err := CompileFile("../models/deepseek_v3.deep", Options{}); err != nil {
		t.Fatal(err)
	}
	// A dense layer builds 41 ops, 12 of them param reads, which the bound
	// cannot count (a read of a param read before builds nothing); it is
	// 27. The MTP loop's bound counts a dense layer too (the layer index
	// decides), where it builds an MoE layer.
	if seen["i"] < 25 || seen["k"] < 35 {
		t.Errorf("bounds %v: the layer loops should be bounded by 25 and 35 ops or more", seen)
	}
}

func TestLoopPreflight(t *testing.T) {
	checkBounds(t)
	model := func(body string) string {
		return "model m\nconfig {\n  n = 3\n}\nexport block f(x: [T, 4] f32) {\n" + body + "\n  return x\n}\n"
	}
	for _, tc := range []struct{ name, src, want string }{
		{"empty body", model("for i in 0..2**62 {}"), "would run 4611686018427387904 times"},
		{"whole int range", model("for i in -2**62-2**62..2**62-1+2**62 {}"), "would run 18446744073709551615 times"},
		{"nested", model("for i in 0..1000 {\n for j in 0..2000 {}\n}"), "would run 2000 times"},
		{"ops", model("for i in 0..300000 {\n x = x + 1\n y = exp(x)\n z = -x\n}"), "build at least 4 ops each time (1200000 in all)"},
		{"quadratic list", model("l = []\nfor i in 0..1000000 {\n l = l + [i]\n}"), "lists and strings too large"},
		{"doubling list", model("l = [1]\nfor i in 0..100 {\n l = l + l\n}"), "lists and strings too large"},
		{"doubling string", model("s = \"ab\"\nfor i in 0..100 {\n s = \"{s}{s}\"\n}"), "lists and strings too large"},
		{"huge rank", model("l = [1]\nfor i in 0..16 {\n l = l + l\n}\ny = reshape(x, l + [T, 4])"), "rank 65538 is more than 64"},
		{"huge shape", model("y = expand(unsqueeze(x, 0), [2**40, T, 4])\nz = expand(unsqueeze(y, 0), [2**40, 2**40, T, 4])"), "more than 2^53 elements"},
		{"many statements", model("for i in 0..1000000 {\n" + strings.Repeat(" a = i + 1\n", 300) + "}"), "operands evaluated"},
		{"long expression", model("for i in 0..1000000 {\n a = 1" + strings.Repeat(" + 1", 1000) + "\n}"), "operands evaluated"},
		{"long literal", model("for i in 0..1000000 {\n s = \"" + strings.Repeat("x", 100000) + "\"\n}"), "lists and strings too large"},
		{"max of a long list", model("l = [1]\nfor i in 0..16 {\n l = l + l\n}\nfor i in 0..100000 {\n m = max(l)\n}"), "lists and strings too large"},
		{"params", model("for i in 0..2000000 {\n param w: [4] f32 {ckpt = \"w{i}\"}\n}"), "would run 2000000 times"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := CompileSource("m.deep", tc.src, Options{})
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Msg, tc.want) {
				t.Fatalf("want an error saying %q, got %v", tc.want, err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

// A loop that may return stops early; only its iterations count.
func TestLoopWithReturnIsNotRefusedUpFront(t *testing.T) {
	src := `model m
block first_over(limit: int) {
  for i in 0..2**62 {
    if i * i > limit {
      return i
    }
  }
  return -1
}
assert first_over(99) == 10, "first_over"
`
	if _, err := CompileSource("m.deep", src, Options{}); err != nil {
		t.Fatal(err)
	}
}
