package gguf_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/gguf"
)

// validFile is a small file from Write with metadata and tensors of the
// four writable types; its last tensor is not empty, so every strict
// prefix lacks some of its bytes.
func validFile(t testing.TB) []byte {
	kvs := []gguf.KV{
		{"general.architecture", "llama"},
		{"n", uint32(3)},
		{"toks", gguf.Array{Elem: gguf.TypeString, Values: []string{"a", "bc"}}},
		{"nest", gguf.Array{Elem: gguf.TypeArray, Values: []gguf.Array{{Elem: gguf.TypeInt16, Values: []int16{1}}}}},
		{"f", 1.5},
	}
	ts := []gguf.TensorSpec{
		{Name: "a", Dims: []int64{3}, Type: gguf.F32, Values: vals(seq(3, 1))},
		{Name: "b", Dims: []int64{2, 2}, Type: gguf.F16, Values: vals(seq(4, 2))},
		{Name: "c", Dims: []int64{5}, Type: gguf.BF16, Values: vals(seq(5, 3))},
		{Name: "d", Dims: []int64{32, 2}, Type: gguf.Q8_0, Values: vals(seq(64, 4))},
	}
	return write(t, kvs, ts)
}

// tiny is the layout test's file, made by hand: KV a=7, F32 tensor t of 2.
func tiny() *builder {
	return (&builder{}).header(1, 1).kvU32("a", 7).tensor("t", []uint64{2}, 0, 0).pad(32).f32(1.5).f32(-2)
}

func TestReadTiny(t *testing.T) {
	f, err := read(tiny().bytes())
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := f.Get("a"); !ok || v != uint32(7) {
		t.Errorf("a = %v, %v", v, ok)
	}
}

func TestReadPrefixes(t *testing.T) {
	for _, b := range [][]byte{validFile(t), tiny().bytes()} {
		if _, err := read(b); err != nil {
			t.Fatalf("the whole file: %v", err)
		}
		for n := range len(b) {
			f, err := read(b[:n])
			if err == nil {
				t.Errorf("a prefix of %d of %d bytes was read: %+v", n, len(b), f)
			}
		}
	}
}

// Read must not read past size even when the reader holds more.
func TestReadSizeBounds(t *testing.T) {
	b := tiny().bytes()
	if _, err := gguf.Read(bytes.NewReader(b), int64(len(b))-1); err == nil {
		t.Errorf("size one short accepted")
	}
	// A size larger than the reader holds: a read error, not a panic.
	if _, err := gguf.Read(bytes.NewReader(b[:30]), int64(len(b))); err == nil {
		t.Errorf("size past the reader's end accepted")
	}
	if _, err := gguf.Read(bytes.NewReader(b), -1); err == nil {
		t.Errorf("negative size accepted")
	}
}

func TestReadHostile(t *testing.T) {
	bld := func() *builder { return &builder{} }
	// A file with one KV of the given type and value bytes, no tensors.
	kv := func(typ uint32, v ...byte) []byte {
		return bld().header(0, 1).str("k").u32(typ).raw(v...).zeros(64).bytes()
	}
	// A file with the given tensor infos and data bytes, no KVs.
	tensors := func(data int, infos func(*builder)) []byte {
		w := bld().header(0, 0)
		infos(w)
		return w.pad(32).zeros(data).bytes()
	}
	// Fix up the tensor count of a file made by tensors.
	withNT := func(b []byte, nt uint64) []byte {
		b[8] = byte(nt)
		return b
	}
	nested := func(depth int) []byte {
		w := bld().header(0, 1).str("k").u32(9)
		for range depth - 1 {
			w.u32(9).u64(1) // an array of one array
		}
		return w.u32(0).u64(1).u8(42).zeros(32).bytes() // innermost: one uint8
	}
	big := uint64(1) << 60
	cases := []struct {
		name string
		b    []byte
		want string // a word the error must contain
	}{
		{"empty", nil, ""},
		{"wrong magic", append([]byte("GGUG"), tiny().b[4:]...), "magic"},
		{"reversed magic", append([]byte("FUGG"), tiny().b[4:]...), "magic"},
		{"version 0", bld().raw('G', 'G', 'U', 'F').u32(0).u64(0).u64(0).zeros(32).bytes(), "version"},
		{"version 1", bld().raw('G', 'G', 'U', 'F').u32(1).u64(0).u64(0).zeros(32).bytes(), "version"},
		{"version 4", bld().raw('G', 'G', 'U', 'F').u32(4).u64(0).u64(0).zeros(32).bytes(), "version"},
		{"big-endian version 3", bld().raw('G', 'G', 'U', 'F').u32(3 << 24).u64(0).u64(0).zeros(32).bytes(), "version"},
		{"huge tensor count", bld().header(big, 0).zeros(64).bytes(), ""},
		{"huge kv count", bld().header(0, big).zeros(64).bytes(), ""},
		{"max counts", bld().header(math.MaxUint64, math.MaxUint64).zeros(64).bytes(), ""},
		{"kv count one too many", bld().header(0, 2).kvU32("a", 1).bytes(), ""},
		{"huge key length", bld().header(0, 1).u64(big).zeros(64).bytes(), ""},
		{"max key length", bld().header(0, 1).u64(math.MaxUint64).zeros(64).bytes(), ""},
		{"key past the end", bld().header(0, 1).u64(100).raw('a', 'b').bytes(), ""},
		{"huge string value", kv(8, bld().u64(big).b...), ""},
		{"huge tensor name", bld().header(1, 0).u64(big).zeros(64).bytes(), ""},
		{"huge u8 array", kv(9, bld().u32(0).u64(big).b...), ""},
		{"huge u64 array", kv(9, bld().u32(10).u64(big).b...), ""},
		{"huge string array", kv(9, bld().u32(8).u64(big).b...), ""},
		{"huge array array", kv(9, bld().u32(9).u64(big).b...), ""},
		{"max array count", kv(9, bld().u32(0).u64(math.MaxUint64).b...), ""},
		{"u32 array one too long", bld().header(0, 1).str("k").u32(9).u32(4).u64(3).u32(1).u32(2).u32(3).bytes()[:60], ""},
		{"unknown value type 13", kv(13, 0, 0, 0, 0), "type"},
		{"unknown value type max", kv(math.MaxUint32, 0, 0, 0, 0), "type"},
		{"array of unknown type", kv(9, bld().u32(13).u64(1).u8(0).b...), "type"},
		{"empty array of unknown type", kv(9, bld().u32(200).u64(0).b...), "type"},
		{"nested too deep", nested(gguf.MaxDepth + 1), "nested"},
		{"nested far too deep", nested(100000), "nested"},
		{"duplicate key", bld().header(0, 2).kvU32("a", 1).kvU32("a", 2).zeros(32).bytes(), `"a"`},
		{"alignment 0", bld().header(0, 1).kvU32("general.alignment", 0).zeros(32).bytes(), "alignment"},
		{"alignment 24", bld().header(0, 1).kvU32("general.alignment", 24).zeros(32).bytes(), "alignment"},
		{"alignment as u64", bld().header(0, 1).str("general.alignment").u32(10).u64(32).zeros(32).bytes(), "alignment"},
		{"n_dims 0", withNT(tensors(64, func(w *builder) { w.tensor("t", nil, 0, 0) }), 1), "dimensions"},
		{"n_dims 5", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{1, 1, 1, 1, 1}, 0, 0) }), 1), "dimensions"},
		{"n_dims huge", withNT(tensors(64, func(w *builder) { w.str("t").u32(math.MaxUint32) }), 1), "dimensions"},
		{"dim 2^63", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{1 << 63}, 0, 0) }), 1), ""},
		{"dims overflow", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{1 << 32, 1 << 32}, 0, 0) }), 1), "overflow"},
		{"huge dims in range", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{1 << 40, 1 << 20}, 0, 0) }), 1), ""},
		{"unknown tensor type", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{1}, 99, 0) }), 1), "type"},
		{"removed tensor type 4", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{32}, 4, 0) }), 1), "type"},
		{"Q8_0 row of 16", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{16, 2}, 8, 0) }), 1), "Q8_0"},
		{"offset not aligned", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{1}, 0, 4) }), 1), "offset"},
		{"offset 2^63", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{1}, 0, 1<<63) }), 1), ""},
		{"offset max aligned", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{1}, 0, math.MaxUint64&^31) }), 1), ""},
		{"offset past the end", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{1}, 0, 96) }), 1), "past"},
		{"offset far past the end", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{1}, 0, 1<<62) }), 1), "past"},
		{"tensor past the end", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{17}, 0, 0) }), 1), "past"},
		{"tensor ends past the end", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{9}, 0, 32) }), 1), "past"},
		{"huge tensor at 0", withNT(tensors(64, func(w *builder) { w.tensor("t", []uint64{1 << 40, 1 << 20}, 0, 0) }), 1), "past"},
		{"no data at all", bld().header(1, 0).tensor("t", []uint64{1}, 0, 0).bytes(), "past"},
		{"overlap", withNT(tensors(128, func(w *builder) {
			w.tensor("a", []uint64{16}, 0, 0).tensor("b", []uint64{16}, 0, 32)
		}), 2), "overlap"},
		{"overlap listed backwards", withNT(tensors(128, func(w *builder) {
			w.tensor("b", []uint64{16}, 0, 32).tensor("a", []uint64{16}, 0, 0)
		}), 2), "overlap"},
		{"same offset", withNT(tensors(128, func(w *builder) {
			w.tensor("a", []uint64{8}, 0, 0).tensor("b", []uint64{8}, 0, 0)
		}), 2), "overlap"},
		{"inside another", withNT(tensors(256, func(w *builder) {
			w.tensor("a", []uint64{64}, 0, 0).tensor("b", []uint64{1}, 0, 64).tensor("c", []uint64{1}, 0, 224)
		}), 3), "overlap"},
		{"duplicate tensor", withNT(tensors(128, func(w *builder) {
			w.tensor("a", []uint64{1}, 0, 0).tensor("a", []uint64{1}, 0, 32)
		}), 2), `"a"`},
		{"tensor count one too many", withNT(tensors(0, func(w *builder) { w.tensor("a", []uint64{1}, 0, 0) }), 2), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			f, err := read(c.b)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("read: %+v", f)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "gguf: ") {
				t.Errorf("error %q lacks the gguf: prefix", err)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("allocated %d bytes for a %d-byte file", n, len(c.b))
			}
		})
	}
}

// Files at the limits are accepted.
func TestReadLimits(t *testing.T) {
	bld := func() *builder { return &builder{} }
	// Arrays nested MaxDepth deep.
	w := bld().header(0, 1).str("k").u32(9)
	for range gguf.MaxDepth - 1 {
		w.u32(9).u64(1)
	}
	f, err := read(w.u32(0).u64(1).u8(42).bytes())
	if err != nil {
		t.Fatalf("arrays nested %d deep: %v", gguf.MaxDepth, err)
	}
	v := f.KVs[0].Value
	for range gguf.MaxDepth - 1 {
		v = v.(gguf.Array).Values.([]gguf.Array)[0]
	}
	if a := v.(gguf.Array); a.Elem != gguf.TypeUint8 || a.Values.([]uint8)[0] != 42 {
		t.Errorf("innermost array %#v", a)
	}

	// A tensor of MaxDims dims, a zero-sized one ending the data,
	// tensors listed out of offset order, a bool byte other than 0/1,
	// version 2, general.alignment 16 and an unknown tensor type the
	// reader can size (Q4_0).
	b := bld().raw('G', 'G', 'U', 'F').u32(2).u64(4).u64(2).
		kvU32("general.alignment", 16).
		str("b").u32(7).u8(2).
		tensor("late", []uint64{2}, 0, 48).
		tensor("early", []uint64{2, 1, 1, 2}, 1, 0).
		tensor("q4", []uint64{32}, 2, 16).
		tensor("empty", []uint64{0}, 0, 64).
		pad(16).zeros(48).f32(1).f32(2).zeros(8).bytes()
	f, err = read(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 2 || f.Alignment != 16 || f.DataOffset%16 != 0 || f.DataOffset+64 != int64(len(b)) {
		t.Errorf("version %d, alignment %d, data at %d of %d", f.Version, f.Alignment, f.DataOffset, len(b))
	}
	if v, _ := f.Get("b"); v != true {
		t.Errorf("bool byte 2 read as %v", v)
	}
	want := map[string][2]int64{"late": {48, 8}, "early": {0, 8}, "q4": {16, 18}, "empty": {64, 0}}
	for _, ti := range f.Tensors {
		if w := want[ti.Name]; ti.Offset != w[0] || ti.Size != w[1] {
			t.Errorf("%s: offset %d size %d, want %v", ti.Name, ti.Offset, ti.Size, w)
		}
	}
	late, _ := f.Tensor("late")
	if v, err := f.Values(late); err != nil || len(v) != 2 || v[0] != 1 || v[1] != 2 {
		t.Errorf("Values(late) = %v, %v", v, err)
	}
	if v, err := f.Values(f.Tensors[3]); err != nil || len(v) != 0 {
		t.Errorf("Values(empty) = %v, %v", v, err)
	}
	q4, _ := f.Tensor("q4")
	if _, err := f.Values(q4); err == nil {
		t.Errorf("Q4_0 values decoded")
	}
	if q4.Type.String() != "Q4_0" {
		t.Errorf("type 2 is %q", q4.Type)
	}
}

// A zero-sized tensor at the very end of the data section has no bytes
// to read; its Values are empty, not an error.
func TestEmptyTensorAtEnd(t *testing.T) {
	b := write(t, nil, []gguf.TensorSpec{
		{Name: "a", Dims: []int64{1}, Type: gguf.F32, Values: vals([]float32{3})},
		{Name: "z", Dims: []int64{0, 4}, Type: gguf.F32, Values: vals(nil)},
	})
	f, err := read(b)
	if err != nil {
		t.Fatal(err)
	}
	z, _ := f.Tensor("z")
	if f.DataOffset+z.Offset != int64(len(b)) {
		t.Logf("z at %d of %d bytes", f.DataOffset+z.Offset, len(b))
	}
	if v, err := f.Values(z); err != nil || len(v) != 0 {
		t.Errorf("Values(z) = %v, %v", v, err)
	}
}

// eofReaderAt returns io.EOF with a read that reaches the end of its data,
// as io.ReaderAt allows ("If the n = len(p) bytes returned by ReadAt are
// at the end of the input source, ReadAt may return either err == EOF or
// err == nil").
type eofReaderAt struct{ b []byte }

func (r eofReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(r.b)) {
		return 0, errors.New("bad offset")
	}
	n := copy(p, r.b[off:])
	if off+int64(n) == int64(len(r.b)) {
		return n, io.EOF
	}
	return n, nil
}

func TestReaderAtEOF(t *testing.T) {
	b := validFile(t)
	f, err := gguf.Read(eofReaderAt{b}, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	last := f.Tensors[len(f.Tensors)-1]
	if f.DataOffset+last.Offset+last.Size != int64(len(b)) {
		t.Fatalf("the last tensor does not end the file")
	}
	if v, err := f.Values(last); err != nil || len(v) != 64 {
		t.Errorf("Values(%s) = %d values, %v", last.Name, len(v), err)
	}
	// A KV that ends the file, and an empty string that ends it.
	for _, b := range [][]byte{
		(&builder{}).header(0, 1).kvU32("a", 7).bytes(),
		(&builder{}).header(0, 1).str("a").u32(8).str("").bytes(),
	} {
		if _, err := gguf.Read(eofReaderAt{b}, int64(len(b))); err != nil {
			t.Errorf("% x: %v", b, err)
		}
		if _, err := read(b); err != nil {
			t.Errorf("% x: %v", b, err)
		}
	}
}

type errReaderAt struct{}

func (errReaderAt) ReadAt(p []byte, off int64) (int, error) { return 0, errors.New("i/o error") }

func TestReaderAtError(t *testing.T) {
	if _, err := gguf.Read(errReaderAt{}, 1000); err == nil || !strings.Contains(err.Error(), "i/o error") {
		t.Errorf("Read = %v", err)
	}
	b := validFile(t)
	f, err := read(b)
	if err != nil {
		t.Fatal(err)
	}
	// Values reads from the file's reader: a shorter one fails cleanly.
	g, err := gguf.Read(bytes.NewReader(b[:f.DataOffset+1]), int64(len(b)))
	if err != nil {
		t.Fatal(err) // the header is all there
	}
	if _, err := g.Values(g.Tensors[len(g.Tensors)-1]); err == nil {
		t.Errorf("Values past the reader's end succeeded")
	}
}
