package gguf_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/gguf"
)

// allKVs holds a value of every metadata type, arrays of several element
// types, empty ones and a nested array.
func allKVs() []gguf.KV {
	return []gguf.KV{
		{"general.architecture", "llama"},
		{"u8", uint8(200)},
		{"i8", int8(-5)},
		{"u16", uint16(60000)},
		{"i16", int16(-30000)},
		{"u32", uint32(4_000_000_000)},
		{"i32", int32(-2_000_000_000)},
		{"f32", float32(3.25)},
		{"f32.tiny", float32(math.SmallestNonzeroFloat32)},
		{"bool.true", true},
		{"bool.false", false},
		{"str", "héllo, wörld"},
		{"str.empty", ""},
		{"u64", uint64(1<<63 + 5)},
		{"i64", int64(-1 << 62)},
		{"f64", math.Pi},
		{"f64.neg", -1e300},
		{"arr.u8", gguf.Array{Elem: gguf.TypeUint8, Values: []uint8{0, 1, 255}}},
		{"arr.i8", gguf.Array{Elem: gguf.TypeInt8, Values: []int8{-128, 127}}},
		{"arr.u16", gguf.Array{Elem: gguf.TypeUint16, Values: []uint16{65535}}},
		{"arr.i16", gguf.Array{Elem: gguf.TypeInt16, Values: []int16{-1, 2}}},
		{"arr.u32", gguf.Array{Elem: gguf.TypeUint32, Values: []uint32{7, 1 << 31}}},
		{"arr.i32", gguf.Array{Elem: gguf.TypeInt32, Values: []int32{1, -2, 3}}},
		{"arr.u64", gguf.Array{Elem: gguf.TypeUint64, Values: []uint64{math.MaxUint64}}},
		{"arr.i64", gguf.Array{Elem: gguf.TypeInt64, Values: []int64{math.MinInt64, 0}}},
		{"arr.f32", gguf.Array{Elem: gguf.TypeFloat32, Values: []float32{0.5, -1e-3, 1e30}}},
		{"arr.f64", gguf.Array{Elem: gguf.TypeFloat64, Values: []float64{1.0 / 3, math.Copysign(0, -1)}}},
		{"arr.bool", gguf.Array{Elem: gguf.TypeBool, Values: []bool{true, false, true}}},
		{"tokenizer.ggml.tokens", gguf.Array{Elem: gguf.TypeString, Values: []string{"<s>", "", "▁the", "\x00"}}},
		{"arr.empty", gguf.Array{Elem: gguf.TypeUint16, Values: []uint16{}}},
		{"arr.empty.str", gguf.Array{Elem: gguf.TypeString, Values: []string{}}},
		{"arr.nested", gguf.Array{Elem: gguf.TypeArray, Values: []gguf.Array{
			{Elem: gguf.TypeInt64, Values: []int64{1, 2}},
			{Elem: gguf.TypeString, Values: []string{"x", "yz"}},
			{Elem: gguf.TypeArray, Values: []gguf.Array{{Elem: gguf.TypeFloat32, Values: []float32{-2.5}}}},
			{Elem: gguf.TypeBool, Values: []bool{}},
		}}},
	}
}

type tensorCase struct {
	name string
	dims []int64
	typ  gguf.TensorType
	vals []float32
	// bytesPer32 is the storage of 32 elements, from the spec: F32 4
	// bytes each, F16 and BF16 2, Q8_0 one 34-byte block.
	bytesPer32 int64
}

func tensorCases() []tensorCase {
	mk := func(name string, dims []int64, typ gguf.TensorType, per32 int64, seed uint32) tensorCase {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		return tensorCase{name, dims, typ, seq(int(n), seed), per32}
	}
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.1, 1.0 / 3, 65504, 65520, 1e-7, 6e-8, -3e38, 1e-40}
	cs := []tensorCase{
		mk("f32.vec", []int64{5}, gguf.F32, 128, 1),
		mk("f32.mat", []int64{3, 2}, gguf.F32, 128, 2),
		mk("f32.4d", []int64{2, 1, 3, 2}, gguf.F32, 128, 3),
		mk("f16.mat", []int64{4, 3}, gguf.F16, 64, 4),
		{"f16.special", []int64{int64(len(special))}, gguf.F16, special, 64},
		mk("bf16.vec", []int64{7}, gguf.BF16, 64, 5),
		{"bf16.special", []int64{int64(len(special))}, gguf.BF16, special, 64},
		mk("q8.mat", []int64{64, 2}, gguf.Q8_0, 34, 6),
		mk("q8.3d", []int64{32, 2, 2}, gguf.Q8_0, 34, 7),
		{"f32.special", []int64{int64(len(special))}, gguf.F32, special, 128},
	}
	// A Q8_0 row of very different magnitudes per block.
	q := seq(96, 8)
	for i := range q[32:64] {
		q[32+i] *= 1e-4
	}
	for i := range q[64:] {
		q[64+i] *= 1000
	}
	cs = append(cs, tensorCase{"q8.scales", []int64{96}, gguf.Q8_0, q, 34})
	return cs
}

func TestRoundTrip(t *testing.T) {
	kvs := allKVs()
	cases := tensorCases()
	var specs []gguf.TensorSpec
	calls := make([]int, len(cases))
	for i, c := range cases {
		specs = append(specs, gguf.TensorSpec{Name: c.name, Dims: c.dims, Type: c.typ,
			Values: func() ([]float32, error) { calls[i]++; return slices.Clone(c.vals), nil }})
	}
	b := write(t, kvs, specs)
	for i, n := range calls {
		if n != 1 {
			t.Errorf("tensor %s: Values called %d times, want once", cases[i].name, n)
		}
	}
	f, err := read(b)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if f.Version != 3 {
		t.Errorf("Version = %d, want 3", f.Version)
	}
	if f.Alignment != 32 {
		t.Errorf("Alignment = %d, want 32", f.Alignment)
	}
	if f.DataOffset%32 != 0 || f.DataOffset > int64(len(b)) {
		t.Errorf("DataOffset = %d: not 32-aligned or past the file's %d bytes", f.DataOffset, len(b))
	}

	// Metadata: same keys, same order, same values and Go types.
	if len(f.KVs) != len(kvs) {
		t.Fatalf("%d KVs read, %d written", len(f.KVs), len(kvs))
	}
	for i, kv := range kvs {
		got := f.KVs[i]
		if got.Key != kv.Key {
			t.Errorf("KV %d: key %q, want %q", i, got.Key, kv.Key)
		}
		if !reflect.DeepEqual(got.Value, kv.Value) {
			t.Errorf("KV %q: read %#v (%T), wrote %#v (%T)", kv.Key, got.Value, got.Value, kv.Value, kv.Value)
		}
		if v, ok := f.Get(kv.Key); !ok || !reflect.DeepEqual(v, kv.Value) {
			t.Errorf("Get(%q) = %#v, %v", kv.Key, v, ok)
		}
	}
	if v, _ := f.Get("arr.f64"); !math.Signbit(v.(gguf.Array).Values.([]float64)[1]) {
		t.Errorf("arr.f64: -0 lost its sign")
	}
	if _, ok := f.Get("absent"); ok {
		t.Errorf("Get(absent) found something")
	}
	if v, _ := f.Get("arr.nested"); v.(gguf.Array).Len() != 4 {
		t.Errorf("nested array Len() = %d, want 4", v.(gguf.Array).Len())
	}

	// Tensors: in order, dims, types, aligned packed offsets, sizes.
	if len(f.Tensors) != len(cases) {
		t.Fatalf("%d tensors read, %d written", len(f.Tensors), len(cases))
	}
	var end int64
	for i, c := range cases {
		ti := f.Tensors[i]
		if ti.Name != c.name || !slices.Equal(ti.Dims, c.dims) || ti.Type != c.typ {
			t.Errorf("tensor %d: %s %v %v, want %s %v %v", i, ti.Name, ti.Dims, ti.Type, c.name, c.dims, c.typ)
		}
		wantSize := int64(len(c.vals)) * c.bytesPer32 / 32
		if ti.Size != wantSize {
			t.Errorf("tensor %s: Size %d, want %d", c.name, ti.Size, wantSize)
		}
		// Offsets: a multiple of 32, the first one after the previous
		// tensor (llama.cpp packs them, padding each to the alignment).
		if wantOff := (end + 31) / 32 * 32; ti.Offset != wantOff {
			t.Errorf("tensor %s: Offset %d, want %d", c.name, ti.Offset, wantOff)
		}
		end = ti.Offset + ti.Size
		if f.DataOffset+end > int64(len(b)) {
			t.Errorf("tensor %s ends at %d, past the file's %d bytes", c.name, f.DataOffset+end, len(b))
		}
		if got, ok := f.Tensor(c.name); !ok || got.Name != c.name || got.Offset != ti.Offset {
			t.Errorf("Tensor(%q) = %+v, %v", c.name, got, ok)
		}

		got, err := f.Values(ti)
		if err != nil {
			t.Errorf("Values(%s): %v", c.name, err)
			continue
		}
		if len(got) != len(c.vals) {
			t.Errorf("Values(%s): %d values, want %d", c.name, len(got), len(c.vals))
			continue
		}
		// The raw bytes at DataOffset+Offset decode to the same values.
		raw, err := gguf.Decode(c.typ, b[f.DataOffset+ti.Offset:f.DataOffset+end])
		if err != nil || !sameBits(raw, got) {
			t.Errorf("Decode of %s's bytes = %v, %v; Values gave %v", c.name, raw, err, got)
		}
		checkValues(t, c.name, c.typ, c.vals, got)
	}
	if _, ok := f.Tensor("absent"); ok {
		t.Errorf("Tensor(absent) found something")
	}
}

func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// checkValues compares decoded values with what was written: F32
// bit-exact, F16 and BF16 as the inputs rounded to them, Q8_0 within the
// quantization error of each block of 32.
func checkValues(t *testing.T, name string, typ gguf.TensorType, want, got []float32) {
	t.Helper()
	switch typ {
	case gguf.F32:
		if !sameBits(got, want) {
			t.Errorf("%s: F32 values %v, want exactly %v", name, got, want)
		}
	case gguf.F16, gguf.BF16:
		for i, x := range want {
			r := runtime.RoundF16(x)
			if typ == gguf.BF16 {
				r = runtime.RoundBF16(x)
			}
			if math.Float32bits(got[i]) != math.Float32bits(r) {
				t.Errorf("%s[%d]: %v became %v, want %v", name, i, x, got[i], r)
			}
		}
	case gguf.Q8_0:
		for b := 0; b < len(want); b += 32 {
			var amax float64
			for _, x := range want[b : b+32] {
				amax = math.Max(amax, math.Abs(float64(x)))
			}
			d := amax / 127
			d16 := float64(runtime.RoundF16(float32(d)))
			// Half a step, plus the scale's f16 rounding times the
			// largest quant, plus a hair for f32 arithmetic.
			tol := d/2 + 127*math.Abs(d16-d) + 1e-6*amax
			for i, x := range want[b : b+32] {
				if e := math.Abs(float64(got[b+i]) - float64(x)); e > tol {
					t.Errorf("%s[%d]: %v became %v: error %g > %g", name, b+i, x, got[b+i], e, tol)
				}
			}
		}
	}
}

func TestAlignment64(t *testing.T) {
	kvs := []gguf.KV{{"general.alignment", uint32(64)}, {"x", "y"}}
	ts := []gguf.TensorSpec{
		{Name: "a", Dims: []int64{1}, Type: gguf.F32, Values: vals([]float32{1})},
		{Name: "b", Dims: []int64{3}, Type: gguf.F16, Values: vals([]float32{1, 2, 3})},
		{Name: "c", Dims: []int64{32}, Type: gguf.Q8_0, Values: vals(seq(32, 9))},
	}
	b := write(t, kvs, ts)
	f, err := read(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Alignment != 64 || f.DataOffset%64 != 0 {
		t.Errorf("Alignment %d, DataOffset %d: want 64 and a multiple of 64", f.Alignment, f.DataOffset)
	}
	for i, want := range []int64{0, 64, 128} {
		if f.Tensors[i].Offset != want {
			t.Errorf("tensor %s at %d, want %d", f.Tensors[i].Name, f.Tensors[i].Offset, want)
		}
	}
	// The header is 24 bytes, then the KVs (8+17+4+4, 8+1+4+8+1) and
	// the tensor infos (3 × 8+1+4+8+4+8): 178 bytes, zero-padded to 192.
	// The data: c (34 bytes) at 128 ends the file.
	if f.DataOffset != 192 || len(b) != 192+128+34 {
		t.Errorf("DataOffset %d, %d bytes; want 192 and %d", f.DataOffset, len(b), 192+128+34)
	}
	if !bytes.Equal(b[178:192], make([]byte, 14)) || b[166] != 8 || b[170] != 128 { // c: type Q8_0, offset 128
		t.Errorf("header end and padding: % x", b[160:192])
	}
	if v, err := f.Values(f.Tensors[1]); err != nil || !slices.Equal(v, []float32{1, 2, 3}) {
		t.Errorf("Values(b) = %v, %v", v, err)
	}
}

func TestWriteNoTensors(t *testing.T) {
	b := write(t, []gguf.KV{{"k", "v"}}, nil)
	f, err := read(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 0 || len(f.KVs) != 1 || f.KVs[0].Value != "v" {
		t.Errorf("read %+v", f)
	}
	b = write(t, nil, nil)
	if want := (&builder{}).header(0, 0).pad(32).bytes(); !bytes.Equal(b, want) && !bytes.Equal(b, want[:24]) {
		t.Errorf("empty file is % x", b)
	}
	if _, err := read(b); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

func TestWriteErrors(t *testing.T) {
	f32 := func(name string, dims []int64, n int) gguf.TensorSpec {
		return gguf.TensorSpec{Name: name, Dims: dims, Type: gguf.F32, Values: vals(make([]float32, n))}
	}
	q8 := func(dims []int64, n int) gguf.TensorSpec {
		return gguf.TensorSpec{Name: "q", Dims: dims, Type: gguf.Q8_0, Values: vals(seq(n, 1))}
	}
	cases := []struct {
		name string
		kvs  []gguf.KV
		ts   []gguf.TensorSpec
		want string // a word the error must contain
	}{
		{"duplicate key", []gguf.KV{{"a", uint32(1)}, {"b", "x"}, {"a", "y"}}, nil, `"a"`},
		{"duplicate tensor", nil, []gguf.TensorSpec{f32("t", []int64{1}, 1), f32("u", []int64{1}, 1), f32("t", []int64{2}, 2)}, `"t"`},
		{"q8 row of 16", nil, []gguf.TensorSpec{q8([]int64{16, 2}, 32)}, "Q8_0"},
		{"q8 row of 48", nil, []gguf.TensorSpec{q8([]int64{48}, 48)}, "Q8_0"},
		{"q8 too many values", nil, []gguf.TensorSpec{q8([]int64{32}, 64)}, "q"},
		{"q8 too few values", nil, []gguf.TensorSpec{q8([]int64{64}, 32)}, "q"},
		{"q8 ragged values", nil, []gguf.TensorSpec{q8([]int64{32}, 33)}, "q"},
		{"too few values", nil, []gguf.TensorSpec{f32("t", []int64{2, 2}, 3)}, "t"},
		{"too many values", nil, []gguf.TensorSpec{f32("t", []int64{2, 2}, 5)}, "t"},
		{"f16 too many values", nil, []gguf.TensorSpec{{Name: "h", Dims: []int64{2}, Type: gguf.F16, Values: vals(make([]float32, 3))}}, "h"},
		{"alignment 0", []gguf.KV{{"general.alignment", uint32(0)}}, nil, "alignment"},
		{"alignment 48", []gguf.KV{{"general.alignment", uint32(48)}}, nil, "alignment"},
		{"alignment int32", []gguf.KV{{"general.alignment", int32(32)}}, nil, "alignment"},
		{"alignment uint64", []gguf.KV{{"general.alignment", uint64(32)}}, nil, "alignment"},
		{"alignment string", []gguf.KV{{"general.alignment", "32"}}, nil, "alignment"},
		{"go int", []gguf.KV{{"n", 5}}, nil, "int"},
		{"go nil", []gguf.KV{{"n", nil}}, nil, "nil"},
		{"raw slice", []gguf.KV{{"n", []int32{1, 2}}}, nil, "[]int32"},
		{"array of a non-slice", []gguf.KV{{"n", gguf.Array{Elem: gguf.TypeInt32, Values: int32(3)}}}, nil, "slice"},
		{"arrays too deep", []gguf.KV{{"n", nest(gguf.MaxDepth + 1)}}, nil, "nested"},
		{"map", []gguf.KV{{"n", map[string]int{}}}, nil, "map"},
		{"array pointer", []gguf.KV{{"n", &gguf.Array{Elem: gguf.TypeInt32, Values: []int32{1}}}}, nil, "Array"},
		{"array elem mismatch", []gguf.KV{{"n", gguf.Array{Elem: gguf.TypeInt32, Values: []int64{1}}}}, nil, "int64"},
		{"array of int", []gguf.KV{{"n", gguf.Array{Elem: gguf.TypeInt32, Values: []int{1}}}}, nil, "int"},
		{"nested elem mismatch", []gguf.KV{{"n", gguf.Array{Elem: gguf.TypeArray, Values: []gguf.Array{{Elem: gguf.TypeString, Values: []bool{true}}}}}}, nil, "bool"},
		{"unknown tensor type", nil, []gguf.TensorSpec{{Name: "t", Dims: []int64{1}, Type: 99, Values: vals([]float32{1})}}, "99"},
		{"unwritable Q4_0", nil, []gguf.TensorSpec{{Name: "t", Dims: []int64{32}, Type: 2, Values: vals(make([]float32, 32))}}, "Q4_0"},
		{"negative dim", nil, []gguf.TensorSpec{f32("t", []int64{-1}, 0)}, "t"},
		{"no dims", nil, []gguf.TensorSpec{f32("t", nil, 1)}, "t"},
		{"five dims", nil, []gguf.TensorSpec{f32("t", []int64{1, 1, 1, 1, 1}, 1)}, "t"},
		{"overflowing dims", nil, []gguf.TensorSpec{f32("t", []int64{1 << 32, 1 << 32}, 0)}, "t"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := gguf.Write(&buf, c.kvs, c.ts)
			if err == nil {
				t.Fatalf("Write succeeded (%d bytes)", buf.Len())
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %s", err, c.want)
			}
		})
	}
}

func TestWriteValuesError(t *testing.T) {
	boom := errors.New("boom")
	err := gguf.Write(&bytes.Buffer{}, nil, []gguf.TensorSpec{
		{Name: "t", Dims: []int64{1}, Type: gguf.F32, Values: func() ([]float32, error) { return nil, boom }},
	})
	if !errors.Is(err, boom) {
		t.Errorf("Write = %v, want an error wrapping the Values error", err)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		n := w.n
		w.n = 0
		return n, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	big := seq(1<<19, 3) // 2 MiB of F32: more than any write buffer
	for _, n := range []int{0, 10, 1 << 20} {
		err := gguf.Write(&failWriter{n: n}, []gguf.KV{{"k", "v"}},
			[]gguf.TensorSpec{{Name: "t", Dims: []int64{int64(len(big))}, Type: gguf.F32, Values: vals(big)}})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("writer failing after %d bytes: Write = %v", n, err)
		}
	}
}

func TestParseTensorType(t *testing.T) {
	for s, want := range map[string]gguf.TensorType{"f32": gguf.F32, "F16": gguf.F16, "bf16": gguf.BF16, "q8_0": gguf.Q8_0, "Q8_0": gguf.Q8_0} {
		if got, err := gguf.ParseTensorType(s); err != nil || got != want {
			t.Errorf("ParseTensorType(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "q4_0", "f64", "fp16"} {
		if _, err := gguf.ParseTensorType(s); err == nil {
			t.Errorf("ParseTensorType(%q) succeeded", s)
		}
	}
	// ggml.h's enum ggml_type.
	for typ, want := range map[gguf.TensorType]uint32{gguf.F32: 0, gguf.F16: 1, gguf.Q8_0: 8, gguf.BF16: 30} {
		if uint32(typ) != want {
			t.Errorf("%v = %d, want %d", typ, uint32(typ), want)
		}
	}
	if s := gguf.TensorType(12345).String(); !strings.Contains(s, "12345") {
		t.Errorf("unknown type prints as %q", s)
	}
}

func TestBytes(t *testing.T) {
	cases := []struct {
		typ  gguf.TensorType
		dims []int64
		want int64
	}{
		{gguf.F32, []int64{3, 2}, 24},
		{gguf.F16, []int64{5}, 10},
		{gguf.BF16, []int64{2, 2, 2}, 16},
		{gguf.Q8_0, []int64{64, 3}, 6 * 34},
		{2, []int64{32}, 18},           // Q4_0: f16 scale + 16 bytes of nibbles
		{12, []int64{256, 2}, 2 * 144}, // Q4_K
		{gguf.F32, []int64{0, 7}, 0},
	}
	for _, c := range cases {
		if got, err := c.typ.Bytes(c.dims); err != nil || got != c.want {
			t.Errorf("%v.Bytes(%v) = %d, %v; want %d", c.typ, c.dims, got, err, c.want)
		}
	}
	for _, c := range []struct {
		typ  gguf.TensorType
		dims []int64
	}{
		{gguf.Q8_0, []int64{16, 2}},
		{gguf.F32, []int64{-4}},
		{gguf.F32, []int64{1 << 31, 1 << 31, 1 << 2}},
		{gguf.Q8_0, []int64{math.MaxInt64 / 32 * 32}},
		{99, []int64{1}},
	} {
		if got, err := c.typ.Bytes(c.dims); err == nil {
			t.Errorf("%v.Bytes(%v) = %d, want an error", c.typ, c.dims, got)
		}
	}
}

// nest is an array of arrays, depth levels deep, holding one int32.
func nest(depth int) gguf.Array {
	a := gguf.Array{Elem: gguf.TypeInt32, Values: []int32{7}}
	for range depth - 1 {
		a = gguf.Array{Elem: gguf.TypeArray, Values: []gguf.Array{a}}
	}
	return a
}
