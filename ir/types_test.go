package ir

import (
	"math"
	"strconv"
	"testing"
)

// addFloats adds at run time: the constant expression 0.1 + 0.2 is exactly 0.3.
func addFloats(a, b float64) float64 { return a + b }

func TestDTypes(t *testing.T) {
	want := []struct {
		name         string
		bytes        int64
		float, isInt bool
	}{
		{"f32", 4, true, false}, {"bf16", 2, true, false}, {"f16", 2, true, false},
		{"f8e4m3", 1, true, false}, {"f8e5m2", 1, true, false},
		{"i32", 4, false, true}, {"i64", 8, false, true}, {"bool", 1, false, false},
	}
	if len(DTypes) != len(want) {
		t.Fatalf("%d dtypes, want %d", len(DTypes), len(want))
	}
	for i, d := range DTypes {
		w := want[i]
		if d.String() != w.name || d.Bytes() != w.bytes || d.IsFloat() != w.float || d.IsInt() != w.isInt || !d.Valid() {
			t.Errorf("%v: got %s %d float=%v int=%v valid=%v", w, d, d.Bytes(), d.IsFloat(), d.IsInt(), d.Valid())
		}
	}
	for _, d := range []DType{Invalid, DType(99)} {
		if d.Valid() || d.Bytes() != 0 || d.IsFloat() || d.IsInt() {
			t.Errorf("%s reports itself valid or sized", d)
		}
	}
	if s := DType(99).String(); s != "dtype(99)" {
		t.Errorf("DType(99).String() = %q", s)
	}
	for _, s := range []string{"invalid", "", "F32", "float32", "dtype(99)"} {
		if _, ok := ParseDType(s); ok {
			t.Errorf("ParseDType(%q) succeeded", s)
		}
	}
}

func TestShape(t *testing.T) {
	s := Shape{S("T"), C(4), S("S"), C(2)}
	if got := s.String(); got != "[T, 4, S, 2]" {
		t.Errorf("String = %s", got)
	}
	if got := (Shape{}).String(); got != "[]" {
		t.Errorf("scalar String = %s", got)
	}
	if got := s.Numel(); got != (Numel{8, "S*T"}) || got.String() != "8*S*T" {
		t.Errorf("Numel = %v (%s)", got, got)
	}
	if got := Consts(2, 3).Numel().String(); got != "6" {
		t.Errorf("constant Numel = %s", got)
	}
	if got := (Shape{}).Numel(); got != (Numel{1, ""}) {
		t.Errorf("scalar Numel = %v", got)
	}
	if n, ok := s.Eval(map[string]int64{"T": 3, "S": 5}); !ok || n != 3*4*5*2 {
		t.Errorf("Eval = %d, %v", n, ok)
	}
	if _, ok := s.Eval(map[string]int64{"T": 3}); ok {
		t.Error("Eval with S unbound succeeded")
	}
	if got := s.Syms(); len(got) != 2 || got[0] != "T" || got[1] != "S" {
		t.Errorf("Syms = %v", got)
	}
	for _, c := range []struct {
		axis int64
		want int
		ok   bool
	}{{0, 0, true}, {3, 3, true}, {-1, 3, true}, {-4, 0, true}, {4, 0, false}, {-5, 0, false}, {math.MinInt64, 0, false}, {math.MaxInt64, 0, false}} {
		got, err := s.Axis(c.axis)
		if (err == nil) != c.ok || c.ok && got != c.want {
			t.Errorf("Axis(%d) = %d, %v", c.axis, got, err)
		}
	}
	if !T(F32, S("T")).Equal(T(F32, S("T"))) || T(F32, S("T")).Equal(T(BF16, S("T"))) || T(F32, C(1)).Equal(T(F32, S("T"))) {
		t.Error("Type.Equal is wrong")
	}
	if !(Type{DType: F32}).Equal(Type{Shape: Shape{}, DType: F32}) {
		t.Error("nil and empty scalar shapes differ")
	}
}

func TestFormatFloat(t *testing.T) {
	cases := map[float64]string{
		1e-06: "1e-06", 2.5: "2.5", addFloats(0.1, 0.2): "0.30000000000000004", 100: "100.0", 0: "0.0",
		-3: "-3.0", 1e21: "1e+21", math.Inf(1): "inf", math.Inf(-1): "-inf", math.NaN(): "nan",
	}
	for f, want := range cases {
		if got := FormatAttr(f); got != want {
			t.Errorf("FormatAttr(%v) = %s, want %s", f, got, want)
		}
	}
	// Every finite float prints as text that reads back exactly.
	for _, f := range []float64{math.SmallestNonzeroFloat64, math.MaxFloat64, 1.0 / 3, -1e-300, 123456789012345678} {
		s := FormatAttr(f)
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != f {
			t.Errorf("FormatAttr(%v) = %s reads back as %v, %v", f, s, back, err)
		}
	}
}

func TestAttrAccessors(t *testing.T) {
	a := Attrs{
		"i": int64(3), "f": 0.5, "s": "x", "b": true, "l": []int64{1, 2},
		"shape": Shape{S("T"), C(2)}, "d": Attrs{"k": int64(1)}, "plain": 1,
	}
	if v, ok := a.Int("i"); !ok || v != 3 {
		t.Error("Int")
	}
	if _, ok := a.Int("plain"); ok {
		t.Error("Int accepted an untyped int")
	}
	if v, ok := a.Float("i"); !ok || v != 3 {
		t.Error("Float of an integer")
	}
	if v, ok := a.Float("f"); !ok || v != 0.5 {
		t.Error("Float")
	}
	if _, ok := a.Float("s"); ok {
		t.Error("Float of a string")
	}
	if v, ok := a.Str("s"); !ok || v != "x" {
		t.Error("Str")
	}
	if v, ok := a.Bool("b"); !ok || !v {
		t.Error("Bool")
	}
	if v, ok := a.Ints("l"); !ok || len(v) != 2 {
		t.Error("Ints")
	}
	if v, ok := a.Shape("l"); !ok || !v.Equal(Consts(1, 2)) {
		t.Error("Shape of an integer list")
	}
	if v, ok := a.Shape("shape"); !ok || !v.Equal(Shape{S("T"), C(2)}) {
		t.Error("Shape")
	}
	if _, ok := a.Shape("i"); ok {
		t.Error("Shape of an integer")
	}
	if v, ok := a.Dict("d"); !ok || len(v) != 1 {
		t.Error("Dict")
	}
	if _, ok := a.Int("missing"); ok {
		t.Error("Int of a missing key")
	}
	var nilAttrs Attrs
	if _, ok := nilAttrs.Int("x"); ok || nilAttrs.Clone() != nil || nilAttrs.String() != "" {
		t.Error("nil Attrs")
	}
	if got := ShapeAttr(Consts(2, 3)); !attrEqual(got, []int64{2, 3}) {
		t.Errorf("ShapeAttr of a constant shape = %#v", got)
	}
	if got := ShapeAttr(Shape{S("T"), C(3)}); !attrEqual(got, Shape{S("T"), C(3)}) {
		t.Errorf("ShapeAttr of a symbolic shape = %#v", got)
	}
}

func TestAttrsCloneIsDeep(t *testing.T) {
	a := Attrs{"l": []int64{1}, "f": []float64{1}, "s": Shape{C(1)}, "d": Attrs{"l": []int64{1}}}
	c := a.Clone()
	if !c.Equal(a) {
		t.Fatal("clone differs")
	}
	c["l"].([]int64)[0] = 9
	c["f"].([]float64)[0] = 9
	c["s"].(Shape)[0] = C(9)
	c["d"].(Attrs)["l"].([]int64)[0] = 9
	if a["l"].([]int64)[0] != 1 || a["f"].([]float64)[0] != 1 || a["s"].(Shape)[0] != C(1) || a["d"].(Attrs)["l"].([]int64)[0] != 1 {
		t.Error("Clone shares storage with the original")
	}
	if c.Equal(a) {
		t.Error("Equal ignores changed values")
	}
	if (Attrs{"x": math.NaN()}).Equal(Attrs{"x": math.NaN()}) == false {
		t.Error("NaN attributes are not equal to themselves")
	}
	if (Attrs{"x": int64(1)}).Equal(Attrs{"x": 1.0}) {
		t.Error("int64 1 equals float64 1")
	}
	if (Attrs{"x": int64(1)}).Equal(Attrs{"y": int64(1)}) {
		t.Error("different keys are equal")
	}
}
