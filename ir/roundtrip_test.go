package ir

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// roundTrip checks that m verifies, that its text parses and verifies, and
// that the parsed module prints identically. It returns the parsed module.
func roundTrip(t *testing.T, m *Module) *Module {
	t.Helper()
	if err := Verify(m); err != nil {
		t.Fatalf("built module does not verify: %v\n%s", err, Print(m))
	}
	text := Print(m)
	m2, err := Parse("roundtrip.ir", text)
	if err != nil {
		t.Fatalf("Parse(Print(m)): %v\n%s", err, text)
	}
	if err := Verify(m2); err != nil {
		t.Fatalf("parsed module does not verify: %v\n%s", err, text)
	}
	if text2 := Print(m2); text2 != text {
		t.Fatalf("Print(Parse(Print(m))) differs:\n--- first\n%s--- second\n%s", text, text2)
	}
	return m2
}

func TestRoundTripAllOps(t *testing.T) {
	m := allOpsModule(t)
	m2 := roundTrip(t, m)
	// The parsed module holds the same ops, attributes and locations.
	b1, b2 := m.Funcs[0].Body, m2.Funcs[0].Body
	if len(b1) != len(b2) {
		t.Fatalf("body has %d ops after the round trip, want %d", len(b2), len(b1))
	}
	for i := range b1 {
		if b1[i].Name != b2[i].Name || b1[i].Loc != b2[i].Loc || !b1[i].Attrs.Equal(b2[i].Attrs) && len(b1[i].Attrs)+len(b2[i].Attrs) > 0 {
			t.Errorf("op %d: %s %v %v became %s %v %v", i, b1[i].Name, b1[i].Attrs, b1[i].Loc, b2[i].Name, b2[i].Attrs, b2[i].Loc)
		}
	}
	if got, want := len(m2.Funcs[0].Results), len(m.Funcs[0].Results); got != want {
		t.Errorf("function returns %d values after the round trip, want %d", got, want)
	}
}

// TestAllOpsGolden pins the text form of the all-ops module; the text is the
// plugin wire format, so a change here must be deliberate (go test -update).
func TestAllOpsGolden(t *testing.T) {
	text := Print(allOpsModule(t))
	path := filepath.Join("testdata", "all_ops.ir")
	if *update {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update ./ir to create it)", err)
	}
	if text != string(want) {
		t.Errorf("Print(all ops) differs from %s (run go test -update ./ir if the change is meant):\n%s", path, text)
	}
	// The golden file itself parses, verifies and prints back unchanged.
	m, err := Parse(path, string(want))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(m); err != nil {
		t.Fatal(err)
	}
	if Print(m) != string(want) {
		t.Errorf("%s does not print back identically", path)
	}
}

func TestRoundTripDTypes(t *testing.T) {
	m := &Module{Name: "dtypes"}
	b := m.NewFunc("f")
	var res []*Value
	for _, dt := range DTypes {
		p := &Param{Name: "p_" + dt.String(), Type: T(dt, C(3), C(2))}
		m.Params = append(m.Params, p)
		a := b.Arg("a_"+dt.String(), T(dt, S("T"), C(2)))
		res = append(res, a, b.Param(p))
		for _, to := range DTypes {
			v, err := b.Emit1("cast", []*Value{a}, Attrs{"dtype": to})
			if err != nil {
				t.Fatal(err)
			}
			res = append(res, v)
		}
		var value any = int64(1)
		if dt.IsFloat() {
			value = 0.5
		} else if dt == Bool {
			value = true
		}
		c, err := b.Emit1("const", nil, Attrs{"value": value, "dtype": dt})
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, c)
	}
	b.Return(res...)
	m2 := roundTrip(t, m)
	for i, dt := range DTypes {
		if got := m2.Params[i].Type.DType; got != dt {
			t.Errorf("param %d has dtype %s after the round trip, want %s", i, got, dt)
		}
		if got, ok := ParseDType(dt.String()); !ok || got != dt {
			t.Errorf("ParseDType(%q) = %v, %v", dt.String(), got, ok)
		}
	}
}

func TestRoundTripSymbolicDims(t *testing.T) {
	m := &Module{Name: "syms"}
	b := m.NewFunc("f")
	x := b.Arg("x", T(F32, S("T"), S("S"), C(4)))
	y := b.Arg("y", T(F32, S("B_1"), S("seq_len2"), S("T")))
	s := T(F32) // scalar
	z := b.Arg("z", s)
	r, err := b.Emit1("reshape", []*Value{x}, Attrs{"shape": ShapeAttr(Shape{S("S"), C(2), S("T"), C(2)})})
	if err != nil {
		t.Fatal(err)
	}
	e, err := b.Emit1("add", []*Value{y, z}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Return(r, e)
	m2 := roundTrip(t, m)
	if got := m2.Funcs[0].Results[0].Type; !got.Equal(T(F32, S("S"), C(2), S("T"), C(2))) {
		t.Errorf("reshape result type = %s", got)
	}
	if got := m2.Funcs[0].Args[2].Type; got.Shape == nil || got.Shape.Rank() != 0 {
		t.Errorf("scalar argument type = %s", got)
	}
}

// attrCases lists one value of every attribute kind, with awkward values.
var attrCases = []struct {
	name string
	v    any
}{
	{"int_zero", int64(0)},
	{"int_neg", int64(-7)},
	{"int_min", int64(math.MinInt64)},
	{"int_max", int64(math.MaxInt64)},
	{"float_eps", 1e-06},
	{"float_half", 2.5},
	{"float_sum", addFloats(0.1, 0.2)}, // 0.30000000000000004
	{"float_whole", 100.0},
	{"float_neg", -2.5e-10},
	{"float_big", 1e21},
	{"float_max", math.MaxFloat64},
	{"float_denorm", 5e-324},
	{"float_negzero", math.Copysign(0, -1)},
	{"float_inf", math.Inf(1)},
	{"float_neginf", math.Inf(-1)},
	{"float_nan", math.NaN()},
	{"str_empty", ""},
	{"str_quotes", `say "hi"`},
	{"str_backslash", `C:\path\n`},
	{"str_unicode", "ünïcødé ∑ 😀 ᵀ"},
	{"str_controls", "tab\tnl\ncr\r\x00"},
	{"str_invalid_utf8", "\xff\xfe"},
	{"str_braces", "model.layers.{e}.w"},
	{"bool_true", true},
	{"bool_false", false},
	{"list_int", []int64{1, -2, 3}},
	{"list_int_empty", []int64{}},
	{"list_float", []float64{0.5, 1, -3, 1e-06, math.Inf(1), math.Inf(-1)}},
	{"shape_sym", Shape{S("T"), C(128), S("S")}},
	{"shape_one_sym", Shape{S("T")}},
	{"dict", Attrs{"a": int64(1), "b": Attrs{"c": "d", "e": []float64{1.5}}, "f g": Attrs{}}},
	{"dict_empty", Attrs{}},
}

func init() {
	for _, dt := range DTypes {
		attrCases = append(attrCases, struct {
			name string
			v    any
		}{"dtype_" + dt.String(), dt})
	}
}

// TestRoundTripAttrValues round-trips every attribute kind on the module, a
// param and an op, and checks the value read back equals the one written.
func TestRoundTripAttrValues(t *testing.T) {
	for _, c := range attrCases {
		t.Run(c.name, func(t *testing.T) {
			m := &Module{Name: "attrs", Attrs: Attrs{"v": c.v}}
			p := &Param{Name: "w", Type: T(F32, C(2)), Attrs: Attrs{"v": c.v}}
			m.Params = []*Param{p}
			b := m.NewFunc("f")
			// On an op, the value goes in rope's scaling dict, an attribute
			// the op declares and whose contents it does not constrain.
			q := b.Arg("q", T(F32, S("T"), C(2), C(4)))
			pos := b.Arg("pos", T(I32, S("T")))
			r, err := b.Emit1("rope", []*Value{q, pos}, Attrs{"theta": 10000.0, "scaling": Attrs{"v": c.v}})
			if err != nil {
				t.Fatal(err)
			}
			b.Return(r, b.Param(p))
			m2 := roundTrip(t, m)
			for where, a := range map[string]Attrs{
				"module": m2.Attrs,
				"param":  m2.Params[0].Attrs,
				"op":     m2.Funcs[0].Body[0].Attrs["scaling"].(Attrs),
			} {
				if got := a["v"]; !attrEqual(c.v, got) {
					t.Errorf("%s attribute v = %#v (%T), want %#v (%T)", where, got, got, c.v, c.v)
				}
			}
		})
	}
}

// TestRoundTripAttrsAllKinds puts every kind in one dict, nested twice.
func TestRoundTripAttrsAllKinds(t *testing.T) {
	all := Attrs{}
	for _, c := range attrCases {
		all[c.name] = c.v
	}
	m := &Module{Name: "attrs", Attrs: Attrs{"all": all, "nested": Attrs{"again": all.Clone()}}}
	m.NewFunc("f")
	m2 := roundTrip(t, m)
	if !m.Attrs.Equal(m2.Attrs) {
		t.Errorf("attributes differ after the round trip:\n%v\n%v", m.Attrs, m2.Attrs)
	}
}

func TestRoundTripAttrKeys(t *testing.T) {
	keys := []string{"plain", "with.dots", "_under", "CamelCase", "a b", "{e}", "1st", "", `q"uote`, `back\slash`, "inf", "nan", "true", "f32", "ü"}
	a := Attrs{}
	for i, k := range keys {
		a[k] = int64(i)
	}
	m := &Module{Name: "keys", Attrs: a}
	m2 := roundTrip(t, m)
	if !m2.Attrs.Equal(a) {
		t.Errorf("keys differ after the round trip: %v", m2.Attrs.Keys())
	}
}

// TestRoundTripNames covers quoted module, param and function names: checkpoint
// names with {e}, spaces, quotes, and names the lexer would read as numbers.
func TestRoundTripNames(t *testing.T) {
	names := []string{
		"model.layers.{e}.mlp.experts.{e}.w1.weight",
		"model.embed_tokens.weight",
		"has space",
		`has "quotes" and \backslash`,
		"inf", "nan", "1", "-1", "x-y",
		"ünïcødé",
	}
	m := &Module{Name: "my model {v3}"}
	for i, n := range names {
		m.Params = append(m.Params, &Param{Name: n, Type: T(BF16, C(int64(i+1)), C(4))})
	}
	for _, fn := range []string{"forward", "fwd.mtp", "with space", "inf", "0"} {
		b := m.NewFunc(fn)
		var res []*Value
		for _, p := range m.Params {
			res = append(res, b.Param(p))
		}
		b.Return(res...)
	}
	m2 := roundTrip(t, m)
	if m2.Name != m.Name {
		t.Errorf("module name %q became %q", m.Name, m2.Name)
	}
	for i, n := range names {
		if got := m2.Params[i].Name; got != n {
			t.Errorf("param name %q became %q", n, got)
		}
		if m2.Param(n) == nil {
			t.Errorf("Param(%q) not found after the round trip", n)
		}
	}
	if m2.Func("with space") == nil || m2.Func("inf") == nil || m2.Func("0") == nil {
		t.Errorf("function names lost: %v", Print(m2))
	}
	if !strings.Contains(Print(m), `param @"model.layers.{e}.mlp.experts.{e}.w1.weight" : [1, 4] bf16`) {
		t.Errorf("a name with braces is not quoted:\n%s", Print(m))
	}
}

func TestRoundTripLocations(t *testing.T) {
	m := &Module{Name: "locs"}
	b := m.NewFunc("f")
	x := b.Arg("x", T(F32, S("T"), C(4)))
	v := x
	for i, loc := range []Loc{
		{File: "models/tiny.deep", Line: 12, Col: 7},
		{},
		{File: `dir with space/"odd".deep`, Line: 1, Col: 1},
		{File: "ünï.deep", Line: 100000, Col: 0},
	} {
		b.Loc = loc
		var err error
		if v, err = b.Emit1("neg", []*Value{v}, nil); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	b.Return(v)
	m2 := roundTrip(t, m)
	for i, op := range m.Funcs[0].Body {
		if got := m2.Funcs[0].Body[i].Loc; got != op.Loc {
			t.Errorf("op %d: loc %v became %v", i, op.Loc, got)
		}
	}
	if !strings.Contains(Print(m), `loc("models/tiny.deep":12:7)`) {
		t.Errorf("location not printed as loc(\"file\":line:col):\n%s", Print(m))
	}
}

// TestRoundTripMultipleFuncs covers several functions, zero-argument and
// zero-result functions, and multi-result returns.
func TestRoundTripMultipleFuncs(t *testing.T) {
	m := &Module{Name: "multi"}
	m.NewFunc("empty")
	b := m.NewFunc("two")
	x := b.Arg("x", T(F32, S("T"), C(8)))
	vs, err := b.Emit("split", []*Value{x}, Attrs{"axis": int64(1), "sizes": []int64{4, 4}})
	if err != nil {
		t.Fatal(err)
	}
	b.Return(vs[1], vs[0], x)
	m2 := roundTrip(t, m)
	if len(m2.Funcs) != 2 || len(m2.Funcs[1].Results) != 3 {
		t.Fatalf("parsed %d funcs / %d results:\n%s", len(m2.Funcs), len(m2.Funcs[1].Results), Print(m2))
	}
	if r := m2.Funcs[1].Results; r[0].Def == nil || r[0].Index != 1 || r[2] != m2.Funcs[1].Args[0] {
		t.Errorf("returned values are not wired to the right definitions")
	}
}

// TestParseCanonicalizes checks that text not in printed form (comments,
// extra spaces, params after funcs, unsorted keys, empty attribute dicts)
// parses, and prints in canonical form that is then stable.
func TestParseCanonicalizes(t *testing.T) {
	src := `// a comment
module @m attributes {} {
  func @f(%x: [T, 2] f32) -> ([T, 2] f32) {   // trailing comment
    %a = neg %x {} : [T,2] f32
    %b = add %a,%x {z = 1, a = 2.50} : [ T , 2 ] f32 loc("f.deep":1:2)
    return %b
  }
  param @w : [2] f32 {}
}
`
	m, err := Parse("canon.ir", src)
	if err != nil {
		t.Fatal(err)
	}
	want := `module @m {
  param @w : [2] f32

  func @f(%x: [T, 2] f32) -> ([T, 2] f32) {
    %0 = neg %x : [T, 2] f32
    %1 = add %0, %x {a = 2.5, z = 1} : [T, 2] f32 loc("f.deep":1:2)
    return %1
  }
}
`
	if got := Print(m); got != want {
		t.Errorf("Print =\n%s\nwant\n%s", got, want)
	}
	roundTrip(t, m)
}
