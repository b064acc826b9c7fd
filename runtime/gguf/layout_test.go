package gguf_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/deepc-dev/deepc/runtime/gguf"
)

// The exact bytes of a one-KV, one-tensor file, written out from the GGUF
// spec rather than from the encoder.
func TestLayoutBytes(t *testing.T) {
	got := write(t, []gguf.KV{{"a", uint32(7)}},
		[]gguf.TensorSpec{{Name: "t", Dims: []int64{2}, Type: gguf.F32, Values: vals([]float32{1.5, -2})}})
	want := []byte{
		'G', 'G', 'U', 'F', // magic
		3, 0, 0, 0, // version 3
		1, 0, 0, 0, 0, 0, 0, 0, // tensor count
		1, 0, 0, 0, 0, 0, 0, 0, // kv count
		// kv: key "a", type 4 (uint32), value 7
		1, 0, 0, 0, 0, 0, 0, 0, 'a',
		4, 0, 0, 0,
		7, 0, 0, 0,
		// tensor info: name "t", n_dims 1, ne[0] 2, type 0 (F32), offset 0
		1, 0, 0, 0, 0, 0, 0, 0, 't',
		1, 0, 0, 0,
		2, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		// 74 bytes so far: 22 zeros pad the header to 96
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		// data: 1.5 = 0x3fc00000, -2 = 0xc0000000
		0x00, 0x00, 0xc0, 0x3f,
		0x00, 0x00, 0x00, 0xc0,
	}
	if !bytes.Equal(got, want) {
		t.Errorf("file is\n% x\nwant\n% x", got, want)
	}
	f, err := read(want)
	if err != nil {
		t.Fatal(err)
	}
	if f.DataOffset != 96 || len(f.Tensors) != 1 || f.Tensors[0].Offset != 0 || f.Tensors[0].Size != 8 {
		t.Errorf("DataOffset %d, tensors %+v", f.DataOffset, f.Tensors)
	}
	if v, err := f.Values(f.Tensors[0]); err != nil || len(v) != 2 || v[0] != 1.5 || v[1] != -2 {
		t.Errorf("Values = %v, %v", v, err)
	}
}

// Each scalar value type's tag and encoding (gguf_type in ggml.h).
func TestValueEncoding(t *testing.T) {
	cases := []struct {
		v    any
		want []byte // tag then value
	}{
		{uint8(0xab), []byte{0, 0, 0, 0, 0xab}},
		{int8(-2), []byte{1, 0, 0, 0, 0xfe}},
		{uint16(0x1234), []byte{2, 0, 0, 0, 0x34, 0x12}},
		{int16(-2), []byte{3, 0, 0, 0, 0xfe, 0xff}},
		{uint32(0x01020304), []byte{4, 0, 0, 0, 4, 3, 2, 1}},
		{int32(-1), []byte{5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}},
		{float32(1), []byte{6, 0, 0, 0, 0, 0, 0x80, 0x3f}},
		{true, []byte{7, 0, 0, 0, 1}},
		{false, []byte{7, 0, 0, 0, 0}},
		{"hi", []byte{8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 'h', 'i'}},
		{uint64(0x0102030405060708), []byte{10, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1}},
		{int64(-2), []byte{11, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{float64(1), []byte{12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}},
		// array: tag 9, element type, u64 count, untagged elements
		{gguf.Array{Elem: gguf.TypeUint16, Values: []uint16{1, 2}},
			[]byte{9, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0}},
		{gguf.Array{Elem: gguf.TypeString, Values: []string{"a"}},
			[]byte{9, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 'a'}},
		// a nested array's elements are (type, count, elements) each
		{gguf.Array{Elem: gguf.TypeArray, Values: []gguf.Array{{Elem: gguf.TypeInt8, Values: []int8{-1}}}},
			[]byte{9, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff}},
	}
	for _, c := range cases {
		got := write(t, []gguf.KV{{"k", c.v}}, nil)
		want := (&builder{}).header(0, 1).str("k").raw(c.want...).bytes()
		if len(got) < len(want) || !bytes.Equal(got[:len(want)], want) {
			t.Errorf("%T %v: wrote\n% x\nwant\n% x", c.v, c.v, got, want)
			continue
		}
		for _, p := range got[len(want):] {
			if p != 0 {
				t.Errorf("%T %v: non-zero padding % x", c.v, c.v, got[len(want):])
				break
			}
		}
		// And Read decodes the hand-made bytes (without padding) back.
		f, err := read(want)
		if err != nil {
			t.Errorf("%T %v: %v", c.v, c.v, err)
			continue
		}
		if len(f.KVs) != 1 || f.KVs[0].Key != "k" {
			t.Errorf("%T %v: read %+v", c.v, c.v, f.KVs)
		}
	}
}

// A Q8_0 block is 34 bytes: an f16 scale d = max|x|/127, then 32 int8
// quants round(x/d), rounded half away from zero (roundf in ggml's
// quantize_row_q8_0_ref).
func TestQ8_0Block(t *testing.T) {
	// max|x| = 127 and integers: d = 1 (f16 0x3c00), exact.
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(i*8 - 127) // -127, -119, ..., 121
	}
	x[31] = 127
	b, err := gguf.Encode(gguf.Q8_0, x)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x00, 0x3c}
	for _, v := range x {
		want = append(want, byte(int8(v)))
	}
	if !bytes.Equal(b, want) {
		t.Errorf("block is\n% x\nwant\n% x", b, want)
	}
	if got, err := gguf.Decode(gguf.Q8_0, b); err != nil || !sameBits(got, x) {
		t.Errorf("decoded %v, %v; want %v", got, err, x)
	}

	// Zeros: scale 0, quants 0, decoded 0.
	b, err = gguf.Encode(gguf.Q8_0, make([]float32, 64))
	if err != nil || !bytes.Equal(b, make([]byte, 68)) {
		t.Errorf("zeros encode to % x, %v", b, err)
	}
	if got, err := gguf.Decode(gguf.Q8_0, b); err != nil || !sameBits(got, make([]float32, 64)) {
		t.Errorf("zeros decode to %v, %v", got, err)
	}

	// Ties round away from zero (roundf), not to even: with d = 1,
	// 0.5 → 1, 2.5 → 3, -2.5 → -3; with d = 2 (max 254), 5 → 2.5 → 3,
	// 3 → 1.5 → 2, 1 → 0.5 → 1, -1 → -1.
	x = make([]float32, 32)
	copy(x, []float32{127, 0.5, 2.5, -2.5, -0.5, 1.5, 126.5, -126.5, 0.49})
	wantQ := []int8{127, 1, 3, -3, -1, 2, 127, -127, 0}
	b, _ = gguf.Encode(gguf.Q8_0, x)
	if b[0] != 0x00 || b[1] != 0x3c {
		t.Errorf("scale % x, want 00 3c", b[:2])
	}
	for i, q := range wantQ {
		if int8(b[2+i]) != q {
			t.Errorf("d=1: %v quantized to %d, want %d", x[i], int8(b[2+i]), q)
		}
	}
	x = make([]float32, 32)
	copy(x, []float32{-254, 5, 3, 1, -1, -5, 7})
	wantQ = []int8{-127, 3, 2, 1, -1, -3, 4}
	b, _ = gguf.Encode(gguf.Q8_0, x)
	if b[0] != 0x00 || b[1] != 0x40 { // f16 2.0
		t.Errorf("scale % x, want 00 40", b[:2])
	}
	for i, q := range wantQ {
		if int8(b[2+i]) != q {
			t.Errorf("d=2: %v quantized to %d, want %d", x[i], int8(b[2+i]), q)
		}
	}

	// Blocks are independent: each has its own scale.
	x = make([]float32, 64)
	x[0], x[32], x[33] = 127, 0.25, -0.125
	b, _ = gguf.Encode(gguf.Q8_0, x)
	if len(b) != 68 {
		t.Fatalf("two blocks take %d bytes, want 68", len(b))
	}
	d2 := float64(0.25) / 127
	got, _ := gguf.Decode(gguf.Q8_0, b)
	if got[0] != 127 || math.Abs(float64(got[32])-0.25) > d2/100 || math.Abs(float64(got[33])+0.125) > d2/2+d2/100 {
		t.Errorf("two blocks decode to %v, %v, %v", got[0], got[32], got[33])
	}
	if int8(b[34+2]) != 127 || int8(b[34+3]) != -64 { // -0.125/(0.25/127) = -63.5 → -64
		t.Errorf("second block quants %d %d, want 127 -64", int8(b[36]), int8(b[37]))
	}
}

// Decoding a hand-made block: scale f16 0x3800 = 0.5.
func TestQ8_0Decode(t *testing.T) {
	blk := make([]byte, 34)
	blk[0], blk[1] = 0x00, 0x38
	blk[2], blk[3], blk[4], blk[33] = 0x80, 0x7f, 0xff, 3 // -128, 127, -1, 3
	got, err := gguf.Decode(gguf.Q8_0, blk)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 32)
	want[0], want[1], want[2], want[31] = -64, 63.5, -0.5, 1.5
	if !sameBits(got, want) {
		t.Errorf("decoded %v, want %v", got, want)
	}
	if _, err := gguf.Decode(gguf.Q8_0, blk[:33]); err == nil {
		t.Errorf("a 33-byte Q8_0 block decoded")
	}
	if _, err := gguf.Encode(gguf.Q8_0, make([]float32, 31)); err == nil {
		t.Errorf("31 values encoded as Q8_0")
	}
}

// F16 and BF16 encodings (IEEE binary16; bfloat16 = the top half of f32).
func TestHalfEncodings(t *testing.T) {
	in := []float32{1, -2, 65504, 0.1}
	b, err := gguf.Encode(gguf.F16, in)
	want := []byte{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x66, 0x2e} // 0.1 → 0x2e66
	if err != nil || !bytes.Equal(b, want) {
		t.Errorf("F16 % x, %v; want % x", b, err, want)
	}
	b, err = gguf.Encode(gguf.BF16, in)
	want = []byte{0x80, 0x3f, 0x00, 0xc0, 0x80, 0x47, 0xcd, 0x3d} // 65504 → 65536; 0.1 = 0x3dcccccd → 0x3dcd
	if err != nil || !bytes.Equal(b, want) {
		t.Errorf("BF16 % x, %v; want % x", b, err, want)
	}
	for _, c := range []struct {
		typ gguf.TensorType
		n   int
	}{{gguf.F32, 7}, {gguf.F16, 3}, {gguf.BF16, 5}} {
		if _, err := gguf.Decode(c.typ, make([]byte, c.n)); err == nil {
			t.Errorf("%v: %d bytes decoded", c.typ, c.n)
		}
	}
	if _, err := gguf.Decode(2, make([]byte, 18)); err == nil {
		t.Errorf("Q4_0 decoded")
	}
	if _, err := gguf.Encode(2, make([]float32, 32)); err == nil {
		t.Errorf("Q4_0 encoded")
	}
}
