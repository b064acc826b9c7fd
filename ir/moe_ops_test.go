package ir

import (
	"strings"
	"testing"
)

// Test cases for the lowered-MoE ops (ops_moe.go), registered with the
// shared all-ops builder and inference tables.

func init() {
	opBuilders["moe_dispatch"] = func(f *allOpsFixture) ([]*Value, error) {
		return f.b.Emit("moe_dispatch", []*Value{f.idx}, Attrs{"experts": int64(4), "block": int64(8)})
	}
	dispatch := func(f *allOpsFixture) (slot, count *Value) {
		vs, err := f.b.Emit("moe_dispatch", []*Value{f.idx}, Attrs{"experts": int64(4), "block": int64(8)})
		if err != nil {
			panic(err)
		}
		return vs[0], vs[1]
	}
	opBuilders["moe_gather"] = func(f *allOpsFixture) ([]*Value, error) {
		slot, _ := dispatch(f)
		return f.b.Emit("moe_gather", []*Value{f.x, slot}, Attrs{"k": int64(2)})
	}
	opBuilders["grouped_gemm"] = func(f *allOpsFixture) ([]*Value, error) {
		slot, count := dispatch(f)
		xs, err := f.b.Emit1("moe_gather", []*Value{f.x, slot}, Attrs{"k": int64(2)})
		if err != nil {
			return nil, err
		}
		return f.b.Emit("grouped_gemm", []*Value{xs, f.b.Param(f.experts), count}, Attrs{"block": int64(8)})
	}
	opBuilders["moe_combine"] = func(f *allOpsFixture) ([]*Value, error) {
		slot, _ := dispatch(f)
		rows, err := f.b.Emit1("moe_gather", []*Value{f.x, slot}, Attrs{"k": int64(2)})
		if err != nil {
			return nil, err
		}
		w, err := f.b.Emit1("take_along", []*Value{f.scores, f.idx}, Attrs{"axis": int64(1)})
		if err != nil {
			return nil, err
		}
		return f.b.Emit("moe_combine", []*Value{rows, slot, w}, nil)
	}
	R := Affine(8, S("T"), 256*127) // V3: k = 8, 256 experts, block 128
	inferCases = append(inferCases,
		inferCase{op: "moe_dispatch", args: tys(ty(I32, "T", 8)), attrs: Attrs{"experts": int64(256), "block": int64(128)}, want: tys(ty(I32, R), ty(I32, 256))},
		inferCase{op: "moe_dispatch", args: tys(ty(I32, 5, 8)), attrs: Attrs{"experts": int64(4), "block": int64(1)}, want: tys(ty(I32, 40), ty(I32, 4))},
		inferCase{op: "moe_dispatch", args: tys(ty(I32, "T", "K")), attrs: Attrs{"experts": int64(4), "block": int64(1)}, err: "constant k"},
		inferCase{op: "moe_dispatch", args: tys(ty(I32, "T", 8)), attrs: Attrs{"experts": int64(4), "block": int64(0)}, err: "must be positive"},
		inferCase{op: "moe_gather", args: tys(ty(BF16, "T", 7168), ty(I32, "R")), attrs: Attrs{"k": int64(8)}, want: tys(ty(BF16, "R", 7168))},
		inferCase{op: "moe_gather", args: tys(ty(BF16, "T", 4, 7168), ty(I32, "R")), attrs: Attrs{"k": int64(8)}, err: "x must be [N, d]"},
		inferCase{op: "grouped_gemm", args: tys(ty(BF16, "R", 7168), ty(F8E4M3, 256, 2048, 7168), ty(I32, 256)), attrs: Attrs{"block": int64(128)}, want: tys(ty(BF16, "R", 2048))},
		inferCase{op: "grouped_gemm", args: tys(ty(BF16, "R", 7168), ty(BF16, 256, 2048, 7168), ty(I32, 128)), attrs: Attrs{"block": int64(128)}, err: "counts must be an integer [256] tensor"},
		inferCase{op: "grouped_gemm", args: tys(ty(BF16, "R", 2048), ty(BF16, 256, 2048, 7168), ty(I32, 256)), attrs: Attrs{"block": int64(128)}, err: "does not match weights"},
		inferCase{op: "moe_combine", args: tys(ty(BF16, "R", 7168), ty(I32, "R"), ty(F32, "T", 8)), want: tys(ty(F32, "T", 7168))},
		inferCase{op: "moe_combine", args: tys(ty(BF16, "R", 7168), ty(I32, "T"), ty(F32, "T", 8)), err: "slots must be an integer"},
		inferCase{op: "moe_combine", args: tys(ty(BF16, "R", 7168), ty(I32, "R"), ty(BF16, "T", 8)), err: "weights must be an f32"},
	)
}

func TestAffineDims(t *testing.T) {
	T := S("T")
	for _, c := range []struct {
		d    Dim
		text string
		at5  int64
	}{
		{Affine(1, T, 0), "T", 5},
		{Affine(8, T, 0), "8*T", 40},
		{Affine(1, T, 3), "T+3", 8},
		{Affine(2, Affine(4, T, 1), 6), "8*T+8", 48},
		{Affine(3, C(4), 1), "13", 13},
	} {
		if got := c.d.String(); got != c.text {
			t.Errorf("%#v prints %q, want %q", c.d, got, c.text)
		}
		if n, ok := c.d.Eval(map[string]int64{"T": 5}); !ok || n != c.at5 {
			t.Errorf("%s at T=5 is %d, %v; want %d", c.text, n, ok, c.at5)
		}
	}
	if Affine(1, T, 0) != S("T") {
		t.Errorf("Affine(1, T, 0) = %#v, want S(T)", Affine(1, T, 0))
	}
	for _, bad := range []struct{ src, err string }{
		{"module @m {\n  func @f(%x: [2*T, 4] f32) -> ([2*T, 4] f32) {\n  return %x\n  }\n}\n", "affine; arguments bind plain symbols"},
		{"module @m {\n  func @f(%x: [2*, 4] f32) -> () {\n  return\n  }\n}\n", "expected a symbol after 2*"},
		{"module @m {\n  func @f(%x: [T+, 4] f32) -> () {\n  return\n  }\n}\n", "expected an integer after +"},
		{"module @m {\n  func @f(%x: [0*T, 4] f32) -> () {\n  return\n  }\n}\n", "positive factor"},
	} {
		m, err := Parse("m.ir", bad.src)
		if err == nil {
			err = Verify(m)
		}
		if err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("%q: got %v, want an error with %q", bad.src, err, bad.err)
		}
	}
}
