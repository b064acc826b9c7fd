package ir

// Test cases for the cache ops (ops_cache.go), registered with the shared
// all-ops builder and inference tables.

func init() {
	param := func(f *allOpsFixture, name string, t Type) *Value {
		p := f.m.Param(name)
		if p == nil {
			p = &Param{Name: name, Type: t}
			f.m.Params = append(f.m.Params, p)
		}
		return f.b.Param(p)
	}
	opBuilders["kv_write"] = func(f *allOpsFixture) ([]*Value, error) {
		cache := param(f, "cache", T(F32, C(4), C(8)))
		return f.b.Emit("kv_write", []*Value{cache, f.x, f.ids}, nil)
	}
	opBuilders["attention_cache"] = func(f *allOpsFixture) ([]*Value, error) {
		k := param(f, "cache.k", T(BF16, C(4), C(1), C(16)))
		v := param(f, "cache.v", T(BF16, C(4), C(1), C(8)))
		kpos := param(f, "cache.pos", T(I32, C(4)))
		kseq := param(f, "cache.seq", T(I32, C(4)))
		return f.b.Emit("attention_cache", []*Value{f.q, k, v, f.pos, f.ids, kpos, kseq}, Attrs{"scale": 0.25})
	}
	inferCases = append(inferCases,
		inferCase{op: "kv_write", args: tys(ty(BF16, "C", 576), ty(BF16, "T", 576), ty(I32, "T")), want: tys(ty(BF16, "C", 576))},
		inferCase{op: "kv_write", args: tys(ty(BF16, "C", 576), ty(BF16, "T", 512), ty(I32, "T")), err: "do not fit cache"},
		inferCase{op: "kv_write", args: tys(ty(BF16, "C", 576), ty(BF16, "T", 576), ty(I32, "C")), err: "slots must be an integer [T] tensor"},
		inferCase{op: "attention_cache", args: tys(ty(F32, "T", 4, 576), ty(F32, "C", 1, 576), ty(F32, "C", 1, 512), ty(I32, "T"), ty(I32, "T"), ty(I32, "C"), ty(I32, "C")), attrs: Attrs{"scale": 0.1}, want: tys(ty(F32, "T", 4, 512))},
		inferCase{op: "attention_cache", args: tys(ty(F32, "T", 4, 8), ty(F32, "C", 4, 8), ty(F32, "C", 4, 8), ty(I32, "T"), ty(I32, "T"), ty(I32, "C"), ty(I32, "C")), attrs: Attrs{"scale": 0.1}, want: tys(ty(F32, "T", 4, 8))},
		inferCase{op: "attention_cache", args: tys(ty(F32, "T", 4, 8), ty(F32, "C", 2, 8), ty(F32, "C", 2, 8), ty(I32, "T"), ty(I32, "T"), ty(I32, "C"), ty(I32, "C")), attrs: Attrs{"scale": 0.1, "window": int64(8)}, want: tys(ty(F32, "T", 4, 8))},
		inferCase{op: "attention_cache", args: tys(ty(F32, "T", 4, 8), ty(F32, "C", 3, 8), ty(F32, "C", 3, 8), ty(I32, "T"), ty(I32, "T"), ty(I32, "C"), ty(I32, "C")), attrs: Attrs{"scale": 0.1}, err: "k and v have 3 heads, which must divide q's 4"},
		inferCase{op: "attention_cache", args: tys(ty(F32, "T", 4, 8), ty(F32, "C", 1, 8), ty(F32, "C", 1, 8), ty(I32, "T"), ty(I32, "T"), ty(I32, "T"), ty(I32, "C")), attrs: Attrs{"scale": 0.1}, err: "slot positions must be an integer [C] tensor"},
	)
}
