package ir

// Test cases for the gradient ops (ops_grad.go), registered with the shared
// all-ops builder and inference tables.

func init() {
	opBuilders["scatter_add"] = func(f *allOpsFixture) ([]*Value, error) {
		src, err := f.b.Emit1("take_along", []*Value{f.x, f.idx}, Attrs{"axis": int64(1)})
		if err != nil {
			return nil, err
		}
		return f.b.Emit("scatter_add", []*Value{f.x, f.idx, src}, Attrs{"axis": int64(1)})
	}
	opBuilders["grouped_linear_wgrad"] = func(f *allOpsFixture) ([]*Value, error) {
		g, err := f.b.Emit1("grouped_linear", []*Value{f.x, f.b.Param(f.experts), f.idx}, nil)
		if err != nil {
			return nil, err
		}
		return f.b.Emit("grouped_linear_wgrad", []*Value{f.x, g, f.idx}, Attrs{"experts": int64(4)})
	}
	opBuilders["attention_grad"] = func(f *allOpsFixture) ([]*Value, error) {
		return f.b.Emit("attention_grad", []*Value{f.q, f.k, f.v, f.pos, f.ids, f.v}, Attrs{"scale": 0.125})
	}
	opBuilders["adamw"] = func(f *allOpsFixture) ([]*Value, error) {
		s, err := f.b.Emit1("sum", []*Value{f.x}, Attrs{"axis": int64(0)})
		if err != nil {
			return nil, err
		}
		k, err := f.b.Emit1("sum", []*Value{s}, Attrs{"axis": int64(0)})
		if err != nil {
			return nil, err
		}
		return f.b.Emit("adamw", []*Value{f.x, f.y, f.x, f.y, k, k, k, k}, Attrs{"beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "decay": 0.1})
	}
	opBuilders["quantize_blocks"] = func(f *allOpsFixture) ([]*Value, error) {
		return f.b.Emit("quantize_blocks", []*Value{f.x}, Attrs{"block": []int64{1, 128}})
	}
	inferCases = append(inferCases,
		inferCase{op: "quantize_blocks", args: tys(ty(BF16, 7168, 2048)), attrs: Attrs{"block": []int64{128, 128}}, want: tys(ty(F8E4M3, 7168, 2048))},
		inferCase{op: "quantize_blocks", args: tys(ty(F32, "T")), attrs: Attrs{"block": []int64{1, 128}}, err: "rank >= 2"},
		inferCase{op: "quantize_blocks", args: tys(ty(F32, 4, 4)), attrs: Attrs{"block": []int64{0, 128}}, err: "two positive"},
		inferCase{op: "adamw", args: tys(ty(F32, 4, 8), ty(F32, 4, 8), ty(F32, 4, 8), ty(F32, 4, 8), ty(F32), ty(F32), ty(F32), ty(F32)), attrs: Attrs{"beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "decay": 0.0}, want: tys(ty(F32, 4, 8), ty(F32, 4, 8), ty(F32, 4, 8))},
		inferCase{op: "adamw", args: tys(ty(BF16, 4, 8), ty(BF16, 4, 8), ty(BF16, 4, 8), ty(BF16, 4, 8), ty(F32), ty(F32), ty(F32), ty(F32)), attrs: Attrs{"beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "decay": 0.0}, err: "must be f32"},
		inferCase{op: "adamw", args: tys(ty(F32, 4, 8), ty(F32, 4, 8), ty(F32, 4, 8), ty(F32, 4, 8), ty(F32, 1), ty(F32), ty(F32), ty(F32)), attrs: Attrs{"beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "decay": 0.0}, err: "must be an f32 scalar"},
		inferCase{op: "scatter_add", args: tys(ty(F32, "V", 8), ty(I32, "T", 8), ty(F32, "T", 8)), attrs: Attrs{"axis": int64(0)}, want: tys(ty(F32, "V", 8))},
		inferCase{op: "scatter_add", args: tys(ty(F32, "T", 16), ty(I64, "T", 4), ty(F32, "T", 4)), attrs: Attrs{"axis": int64(-1)}, want: tys(ty(F32, "T", 16))},
		inferCase{op: "scatter_add", args: tys(ty(F32, "T", 16), ty(I32, "T", 4), ty(F32, "T", 5)), attrs: Attrs{"axis": int64(1)}, err: "must have one shape"},
		inferCase{op: "scatter_add", args: tys(ty(F32, "T", 16), ty(I32, "S", 4), ty(F32, "S", 4)), attrs: Attrs{"axis": int64(1)}, err: "do not match base"},
		inferCase{op: "grouped_linear_wgrad", args: tys(ty(BF16, "T", 8), ty(BF16, "T", 2, 6), ty(I32, "T", 2)), attrs: Attrs{"experts": int64(4)}, want: tys(ty(BF16, 4, 6, 8))},
		inferCase{op: "grouped_linear_wgrad", args: tys(ty(F32, "T", 2, 8), ty(F32, "T", 2, 6), ty(I32, "T", 2)), attrs: Attrs{"experts": int64(4)}, want: tys(ty(F32, 4, 6, 8))},
		inferCase{op: "grouped_linear_wgrad", args: tys(ty(F32, "T", 3, 8), ty(F32, "T", 2, 6), ty(I32, "T", 2)), attrs: Attrs{"experts": int64(4)}, err: "x must be"},
		inferCase{op: "attention_grad", args: tys(ty(F32, "T", 4, 16), ty(F32, "T", 4, 16), ty(F32, "T", 4, 8), ty(I32, "T"), ty(I32, "T"), ty(F32, "T", 4, 8)), attrs: Attrs{"scale": 0.25}, want: tys(ty(F32, "T", 4, 16), ty(F32, "T", 4, 16), ty(F32, "T", 4, 8))},
		inferCase{op: "attention_grad", args: tys(ty(F32, "T", 4, 16), ty(F32, "T", 4, 16), ty(F32, "T", 4, 8), ty(I32, "T"), ty(I32, "T"), ty(F32, "T", 4, 16)), attrs: Attrs{"scale": 0.25}, err: "output gradient must be"},
	)
}
