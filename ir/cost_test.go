package ir

import "testing"

// costOf builds one op over fresh arguments and returns its cost with env.
func costOf(t *testing.T, name string, args []Type, attrs Attrs, env map[string]int64) Cost {
	t.Helper()
	m := &Module{Name: "m"}
	b := m.NewFunc("f")
	var vs []*Value
	for _, a := range args {
		vs = append(vs, b.Arg("a", a))
	}
	res, err := b.Emit(name, vs, attrs)
	if err != nil {
		t.Fatal(err)
	}
	return res[0].Def.Cost(env)
}

// TestCost checks FLOPs (and bytes) against counts worked out by hand: a GEMM
// of an [M, K] by a [K, N] matrix is 2·M·N·K FLOPs; attention is 2·d FLOPs per
// (query, key) pair for q·kᵀ plus 2·dv per pair for p·v, over T·T pairs, or
// T·(T+1)/2 when causal.
func TestCost(t *testing.T) {
	T10 := map[string]int64{"T": 10}
	q, k, v := ty(BF16, "T", 4, 16), ty(BF16, "T", 4, 16), ty(BF16, "T", 4, 8)
	pos := ty(I32, "T")
	cases := []struct {
		name  string
		op    string
		args  []Type
		attrs Attrs
		env   map[string]int64
		flops int64
		bytes int64 // -1: not checked
	}{
		// 2 · (10·16 outputs) · 8 inputs; bytes 10·8·4 + 16·8·2 + 10·16·4.
		{name: "linear", op: "linear", args: tys(ty(F32, "T", 8), ty(BF16, 16, 8)), env: T10, flops: 2560, bytes: 1216},
		// Batch dims multiply: 2 · (2·10·16) · 8.
		{name: "linear 3-D", op: "linear", args: tys(ty(F32, 2, "T", 8), ty(F32, 16, 8)), env: T10, flops: 5120, bytes: -1},
		// A DeepSeek-V3-sized projection: 2 · 4096 · 2048 · 7168.
		{name: "linear large", op: "linear", args: tys(ty(BF16, "T", 7168), ty(BF16, 2048, 7168)), env: map[string]int64{"T": 4096}, flops: 120259084288, bytes: -1},
		// 2 batches of [3, 4]·[4, 5]: 2 · (2·3·5) · 4; bytes (24 + 40 + 30) · 2.
		{name: "matmul", op: "matmul", args: tys(ty(F16, 2, 3, 4), ty(F16, 2, 4, 5)), flops: 240, bytes: 188},
		{name: "matmul symbolic", op: "matmul", args: tys(ty(F32, "T", 3), ty(F32, 3, 7)), env: T10, flops: 2 * 10 * 7 * 3, bytes: -1},
		// Each of 10 tokens × 2 slots is an [8] · [6, 8]ᵀ product: 2 · (10·2·6) · 8.
		// Bytes: x 80·4, w 192·4, idx 20·4, out 120·4.
		{name: "grouped_linear", op: "grouped_linear", args: tys(ty(F32, "T", 8), ty(F32, 4, 6, 8), ty(I32, "T", 2)), env: T10, flops: 1920, bytes: 1648},
		{name: "grouped_linear per slot", op: "grouped_linear", args: tys(ty(F32, "T", 2, 8), ty(F32, 4, 6, 8), ty(I32, "T", 2)), env: T10, flops: 1920, bytes: -1},
		// The same products after dispatch with block 3: 2·10 + 4·2 = 28
		// rows, of which 8 are padding and cost nothing.
		{name: "grouped_gemm", op: "grouped_gemm", args: tys(ty(F32, Affine(2, S("T"), 8), 8), ty(F32, 4, 6, 8), ty(I32, 4)), attrs: Attrs{"block": int64(3)}, env: T10, flops: 1920, bytes: -1},
		// 10 tokens × 2 slots × 8 values, a multiply and an add each.
		{name: "moe_combine", op: "moe_combine", args: tys(ty(F32, Affine(2, S("T"), 8), 8), ty(I32, Affine(2, S("T"), 8)), ty(F32, "T", 2)), env: T10, flops: 320, bytes: -1},
		// 4 heads, 10·11/2 = 55 pairs, 2·(16 + 8) FLOPs a pair: 2 · 4 · 55 · 24.
		{name: "attention causal (default)", op: "attention", args: tys(q, k, v, pos, pos), attrs: Attrs{"scale": 0.25}, env: T10, flops: 10560, bytes: -1},
		{name: "attention causal", op: "attention", args: tys(q, k, v, pos, pos), attrs: Attrs{"scale": 0.25, "causal": true}, env: T10, flops: 10560, bytes: -1},
		// 10·10 = 100 pairs: 2 · 4 · 100 · 24.
		{name: "attention non-causal", op: "attention", args: tys(q, k, v, pos, pos), attrs: Attrs{"scale": 0.25, "causal": false}, env: T10, flops: 19200, bytes: -1},
		// One token attends to itself only.
		{name: "attention one token", op: "attention", args: tys(q, k, v, pos, pos), attrs: Attrs{"scale": 0.25}, env: map[string]int64{"T": 1}, flops: 2 * 4 * 1 * 24, bytes: -1},
		// Default rule: one FLOP per result element.
		{name: "add", op: "add", args: tys(ty(F32, "T", 8), ty(F32, 8)), env: T10, flops: 80, bytes: (80 + 8 + 80) * 4},
		{name: "softmax", op: "softmax", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(-1)}, env: T10, flops: 5 * 80, bytes: -1},
		{name: "rms_norm", op: "rms_norm", args: tys(ty(F32, "T", 8), ty(F32, 8)), attrs: Attrs{"eps": 1e-06}, env: T10, flops: 4 * 80, bytes: -1},
		{name: "sum reads every element", op: "sum", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(1)}, env: T10, flops: 80, bytes: (80 + 10) * 4},
		{name: "reshape is free", op: "reshape", args: tys(ty(F32, "T", 8)), attrs: Attrs{"shape": Shape{C(8), S("T")}}, env: T10, flops: 0, bytes: 2 * 80 * 4},
		{name: "cast is free", op: "cast", args: tys(ty(F32, "T", 8)), attrs: Attrs{"dtype": F8E4M3}, env: T10, flops: 0, bytes: 80*4 + 80},
		// Unbound symbols count as zero-sized.
		{name: "linear unbound", op: "linear", args: tys(ty(F32, "T", 8), ty(F32, 16, 8)), flops: 0, bytes: 16 * 8 * 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := costOf(t, c.op, c.args, c.attrs, c.env)
			if got.FLOPs != c.flops {
				t.Errorf("FLOPs = %d, want %d", got.FLOPs, c.flops)
			}
			if c.bytes >= 0 && got.Bytes != c.bytes {
				t.Errorf("Bytes = %d, want %d", got.Bytes, c.bytes)
			}
		})
	}
}

// TestCostAllOps evaluates every op's cost rule once, which must not panic and
// must not be negative.
func TestCostAllOps(t *testing.T) {
	m := allOpsModule(t)
	for _, op := range m.Funcs[0].Body {
		c := op.Cost(map[string]int64{"T": 7})
		if c.FLOPs < 0 || c.Bytes < 0 {
			t.Errorf("%s: cost %+v", op.Name, c)
		}
	}
	unknown := NewOp("frobnicate", nil, nil, []Type{T(F32, C(4))}, Loc{})
	if c := unknown.Cost(nil); c.FLOPs != 0 || c.Bytes != 16 {
		t.Errorf("unknown op cost = %+v, want 0 FLOPs and 16 bytes", c)
	}
}
