package ir

import (
	"slices"
	"testing"
)

// allOpsFixture is the function every op in the table is built into: a set
// of arguments and parameters with shapes that fit each op.
type allOpsFixture struct {
	m *Module
	b *Builder

	x, y     *Value // [T, 8] f32
	cond     *Value // [T, 8] bool
	ints     *Value // [T, 8] i64
	ids, pos *Value // [T] i32
	idx      *Value // [T, 2] i32
	scores   *Value // [T, 16] f32
	q, k, v  *Value // [T, 4, 16] bf16, [T, 4, 16] bf16, [T, 4, 8] bf16
	ma, mb   *Value // [2, 3, 4] f16, [2, 4, 5] f16

	w, experts, emb, norm *Param
}

// opBuilders emits one use of each op into the fixture. Every op in Ops()
// must have an entry (TestAllOpsCovered).
var opBuilders = map[string]func(f *allOpsFixture) ([]*Value, error){}

func init() {
	for _, name := range []string{"exp", "log", "sqrt", "rsqrt", "sigmoid", "silu", "tanh", "erf"} {
		opBuilders[name] = func(f *allOpsFixture) ([]*Value, error) { return f.b.Emit(name, []*Value{f.x}, nil) }
	}
	for _, name := range []string{"neg", "abs", "sign"} {
		opBuilders[name] = func(f *allOpsFixture) ([]*Value, error) { return f.b.Emit(name, []*Value{f.ints}, nil) }
	}
	for _, name := range []string{"add", "sub", "mul", "div", "maximum", "minimum", "pow", "eq", "ne", "lt", "le", "gt", "ge"} {
		opBuilders[name] = func(f *allOpsFixture) ([]*Value, error) {
			// Broadcast a [8] param against [T, 8].
			return f.b.Emit(name, []*Value{f.x, f.b.Param(f.norm)}, nil)
		}
	}
	emit := func(name string, args func(*allOpsFixture) []*Value, attrs Attrs) func(*allOpsFixture) ([]*Value, error) {
		return func(f *allOpsFixture) ([]*Value, error) { return f.b.Emit(name, args(f), attrs.Clone()) }
	}
	x := func(f *allOpsFixture) []*Value { return []*Value{f.x} }
	opBuilders["where"] = emit("where", func(f *allOpsFixture) []*Value { return []*Value{f.cond, f.x, f.y} }, nil)
	opBuilders["cast"] = emit("cast", x, Attrs{"dtype": BF16})
	opBuilders["const"] = emit("const", func(*allOpsFixture) []*Value { return nil }, Attrs{"value": 2.5, "dtype": F32})
	opBuilders["param"] = func(f *allOpsFixture) ([]*Value, error) { return []*Value{f.b.Param(f.w)}, nil }
	opBuilders["sum"] = emit("sum", x, Attrs{"axis": int64(-1)})
	opBuilders["mean"] = emit("mean", x, Attrs{"axis": int64(1), "keepdim": true})
	opBuilders["reduce_max"] = emit("reduce_max", x, Attrs{"axis": int64(0), "keepdim": false})
	opBuilders["softmax"] = emit("softmax", x, Attrs{"axis": int64(-1)})
	opBuilders["rms_norm"] = func(f *allOpsFixture) ([]*Value, error) {
		return f.b.Emit("rms_norm", []*Value{f.x, f.b.Param(f.norm)}, Attrs{"eps": 1e-06})
	}
	opBuilders["linear"] = func(f *allOpsFixture) ([]*Value, error) {
		return f.b.Emit("linear", []*Value{f.x, f.b.Param(f.w)}, nil)
	}
	opBuilders["matmul"] = emit("matmul", func(f *allOpsFixture) []*Value { return []*Value{f.ma, f.mb} }, nil)
	opBuilders["grouped_linear"] = func(f *allOpsFixture) ([]*Value, error) {
		return f.b.Emit("grouped_linear", []*Value{f.x, f.b.Param(f.experts), f.idx}, nil)
	}
	opBuilders["reshape"] = emit("reshape", x, Attrs{"shape": ShapeAttr(Shape{S("T"), C(2), C(4)})})
	opBuilders["expand"] = func(f *allOpsFixture) ([]*Value, error) {
		return f.b.Emit("expand", []*Value{f.b.Param(f.norm)}, Attrs{"shape": ShapeAttr(Shape{S("T"), C(8)})})
	}
	opBuilders["transpose"] = emit("transpose", x, Attrs{"perm": []int64{1, 0}})
	opBuilders["concat"] = emit("concat", func(f *allOpsFixture) []*Value { return []*Value{f.x, f.y, f.x} }, Attrs{"axis": int64(1)})
	opBuilders["split"] = emit("split", x, Attrs{"axis": int64(-1), "sizes": []int64{3, 5}})
	opBuilders["slice"] = emit("slice", x, Attrs{"axis": int64(1), "start": int64(2), "end": int64(6)})
	opBuilders["gather"] = func(f *allOpsFixture) ([]*Value, error) {
		return f.b.Emit("gather", []*Value{f.b.Param(f.emb), f.ids}, Attrs{"axis": int64(0)})
	}
	opBuilders["take_along"] = emit("take_along", func(f *allOpsFixture) []*Value { return []*Value{f.x, f.idx} }, Attrs{"axis": int64(1)})
	opBuilders["shift"] = emit("shift", func(f *allOpsFixture) []*Value { return []*Value{f.x, f.ids} }, Attrs{"offset": int64(-1)})
	opBuilders["topk"] = emit("topk", func(f *allOpsFixture) []*Value { return []*Value{f.scores} }, Attrs{"k": int64(2)})
	opBuilders["route"] = emit("route", func(f *allOpsFixture) []*Value { return []*Value{f.scores} },
		Attrs{"k": int64(4), "groups": int64(4), "topk_groups": int64(2), "group_top": int64(2)})
	opBuilders["rope"] = emit("rope", func(f *allOpsFixture) []*Value { return []*Value{f.q, f.pos} },
		Attrs{"theta": 10000.0, "scaling": Attrs{"type": "yarn", "factor": 40.0, "original_max_position_embeddings": int64(4096)}})
	opBuilders["attention"] = emit("attention", func(f *allOpsFixture) []*Value { return []*Value{f.q, f.k, f.v, f.pos, f.ids} },
		Attrs{"scale": 0.125, "causal": false})
}

// newAllOpsFixture starts a module with the fixture's params and a function
// "all" with its arguments.
func newAllOpsFixture() *allOpsFixture {
	f := &allOpsFixture{m: &Module{Name: "all_ops", Attrs: Attrs{"version": int64(1)}}}
	f.w = &Param{Name: "layers.{e}.w", Type: T(BF16, C(16), C(8)), Attrs: Attrs{"init": "normal", "std": 0.02}}
	f.experts = &Param{Name: "experts", Type: T(F32, C(4), C(6), C(8))}
	f.emb = &Param{Name: "embed", Type: T(F32, C(100), C(8))}
	f.norm = &Param{Name: "norm", Type: T(F32, C(8)), Attrs: Attrs{"trainable": false}}
	f.m.Params = []*Param{f.w, f.experts, f.emb, f.norm}
	f.b = f.m.NewFunc("all")
	f.b.Loc = Loc{File: "models/all.deep", Line: 3, Col: 5}
	b := f.b
	f.x = b.Arg("x", T(F32, S("T"), C(8)))
	f.y = b.Arg("y", T(F32, S("T"), C(8)))
	f.cond = b.Arg("cond", T(Bool, S("T"), C(8)))
	f.ints = b.Arg("ints", T(I64, S("T"), C(8)))
	f.ids = b.Arg("ids", T(I32, S("T")))
	f.pos = b.Arg("pos", T(I32, S("T")))
	f.idx = b.Arg("idx", T(I32, S("T"), C(2)))
	f.scores = b.Arg("scores", T(F32, S("T"), C(16)))
	f.q = b.Arg("q", T(BF16, S("T"), C(4), C(16)))
	f.k = b.Arg("k", T(BF16, S("T"), C(4), C(16)))
	f.v = b.Arg("v", T(BF16, S("T"), C(4), C(8)))
	f.ma = b.Arg("ma", T(F16, C(2), C(3), C(4)))
	f.mb = b.Arg("mb", T(F16, C(2), C(4), C(5)))
	return f
}

// allOpsModule builds one function using every op in the table, returning
// all of their results.
func allOpsModule(t testing.TB) *Module {
	t.Helper()
	f := newAllOpsFixture()
	var results []*Value
	for i, d := range Ops() {
		build, ok := opBuilders[d.Name]
		if !ok {
			t.Fatalf("no builder case for op %s", d.Name)
		}
		f.b.Loc.Line = 10 + i
		vs, err := build(f)
		if err != nil {
			t.Fatalf("building %s: %v", d.Name, err)
		}
		results = append(results, vs...)
	}
	f.b.Return(results...)
	return f.m
}

func TestAllOpsCovered(t *testing.T) {
	for _, d := range Ops() {
		if _, ok := opBuilders[d.Name]; !ok {
			t.Errorf("op %s is in the op table but has no case in opBuilders", d.Name)
		}
	}
	for name := range opBuilders {
		if Lookup(name) == nil {
			t.Errorf("opBuilders has a case for %s, which is not in the op table", name)
		}
	}
}

// TestAllOpsAttrsDeclared checks that every attribute the builder cases set is
// declared by the op, as required or optional.
func TestAllOpsAttrsDeclared(t *testing.T) {
	m := allOpsModule(t)
	for _, op := range m.Funcs[0].Body {
		d := op.Def()
		for k := range op.Attrs {
			if !slices.Contains(d.Attrs, k) && !slices.Contains(d.Optional, k) {
				t.Errorf("%s: attribute %s is neither required nor optional", op.Name, k)
			}
		}
	}
}

func TestOpTableWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Ops() {
		if d.Name == "" || seen[d.Name] {
			t.Errorf("bad or duplicate op name %q", d.Name)
		}
		seen[d.Name] = true
		if Lookup(d.Name) != d {
			t.Errorf("Lookup(%q) does not return the table entry", d.Name)
		}
		if d.Doc == "" {
			t.Errorf("%s: no Doc", d.Name)
		}
		if d.Args < Variadic {
			t.Errorf("%s: bad operand count %d", d.Name, d.Args)
		}
		if d.Infer == nil && d.Name != "param" {
			t.Errorf("%s: no Infer rule", d.Name)
		}
		if d.Kind > Opaque {
			t.Errorf("%s: bad kind %d", d.Name, d.Kind)
		}
		for _, k := range d.Optional {
			if slices.Contains(d.Attrs, k) {
				t.Errorf("%s: attribute %s is both required and optional", d.Name, k)
			}
		}
	}
	if Lookup("no_such_op") != nil {
		t.Error("Lookup of an unknown op is not nil")
	}
	// Ops returns a copy.
	ops := Ops()
	ops[0] = nil
	if Ops()[0] == nil {
		t.Error("Ops() exposes the table's backing slice")
	}
}
