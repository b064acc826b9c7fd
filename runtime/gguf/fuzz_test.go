package gguf_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/deepc-dev/deepc/runtime/gguf"
)

// FuzzRead feeds Read arbitrary bytes. It must never panic, and what it
// accepts must be consistent: every tensor lies inside the file at an
// aligned offset, no two overlap, the writable types decode to as many
// values as the dims say, and the metadata can be written back.
func FuzzRead(f *testing.F) {
	f.Add(validFile(f))
	f.Add(tiny().bytes())
	f.Add(write(f, allKVs(), nil))
	f.Add(write(f, []gguf.KV{{"general.alignment", uint32(64)}}, []gguf.TensorSpec{
		{Name: "a", Dims: []int64{1}, Type: gguf.F32, Values: vals([]float32{1})},
		{Name: "z", Dims: []int64{0}, Type: gguf.BF16, Values: vals(nil)},
	}))
	// Malformed: truncated, huge counts, a huge array, deep nesting,
	// overlapping tensors, an unaligned offset.
	v := validFile(f)
	f.Add(v[:len(v)-1])
	f.Add(v[:40])
	f.Add((&builder{}).header(1<<60, 1<<60).zeros(64).bytes())
	f.Add((&builder{}).header(0, 1).str("k").u32(9).u32(8).u64(1 << 60).zeros(64).bytes())
	w := (&builder{}).header(0, 1).str("k").u32(9)
	for range 6 {
		w.u32(9).u64(1)
	}
	f.Add(w.u32(0).u64(0).bytes())
	f.Add((&builder{}).header(2, 0).tensor("a", []uint64{16}, 0, 0).tensor("b", []uint64{16}, 8, 32).pad(32).zeros(128).bytes())
	f.Add((&builder{}).header(1, 0).tensor("a", []uint64{1}, 1, 2).pad(32).zeros(64).bytes())

	f.Fuzz(func(t *testing.T, b []byte) {
		size := int64(len(b))
		file, err := gguf.Read(bytes.NewReader(b), size)
		if err != nil {
			return
		}
		if file.Alignment <= 0 || file.Alignment&(file.Alignment-1) != 0 || file.DataOffset%file.Alignment != 0 {
			t.Fatalf("alignment %d, data offset %d", file.Alignment, file.DataOffset)
		}
		type span struct{ off, end int64 }
		var spans []span
		for _, ti := range file.Tensors {
			if ti.Offset < 0 || ti.Size < 0 || ti.Offset%file.Alignment != 0 {
				t.Fatalf("tensor %q: offset %d, size %d", ti.Name, ti.Offset, ti.Size)
			}
			if ti.Offset+ti.Size > size-file.DataOffset {
				t.Fatalf("tensor %q: %d bytes at %d, past the %d data bytes", ti.Name, ti.Size, ti.Offset, size-file.DataOffset)
			}
			if len(ti.Dims) < 1 || len(ti.Dims) > gguf.MaxDims {
				t.Fatalf("tensor %q: dims %v", ti.Name, ti.Dims)
			}
			if n, err := ti.Type.Bytes(ti.Dims); err != nil || n != ti.Size {
				t.Fatalf("tensor %q: Size %d, but %v.Bytes(%v) = %d, %v", ti.Name, ti.Size, ti.Type, ti.Dims, n, err)
			}
			for _, s := range spans {
				if ti.Size > 0 && s.end > s.off && ti.Offset < s.end && s.off < ti.Offset+ti.Size {
					t.Fatalf("tensor %q [%d, %d) overlaps [%d, %d)", ti.Name, ti.Offset, ti.Offset+ti.Size, s.off, s.end)
				}
			}
			spans = append(spans, span{ti.Offset, ti.Offset + ti.Size})
			switch ti.Type {
			case gguf.F32, gguf.F16, gguf.BF16, gguf.Q8_0:
				vs, err := file.Values(ti)
				if err != nil {
					t.Fatalf("Values(%q): %v", ti.Name, err)
				}
				n := int64(1)
				for _, d := range ti.Dims {
					n *= d
				}
				if int64(len(vs)) != n {
					t.Fatalf("Values(%q): %d values for dims %v", ti.Name, len(vs), ti.Dims)
				}
			}
			if got, ok := file.Tensor(ti.Name); !ok || got.Offset != ti.Offset {
				t.Fatalf("Tensor(%q) = %+v, %v", ti.Name, got, ok)
			}
		}
		// The metadata can be written back, and reads back the same
		// (compared as bytes: NaNs do not compare equal).
		var w1 bytes.Buffer
		if err := gguf.Write(&w1, file.KVs, nil); err != nil {
			t.Fatalf("Write of the metadata read: %v", err)
		}
		again, err := gguf.Read(bytes.NewReader(w1.Bytes()), int64(w1.Len()))
		if err != nil {
			t.Fatalf("Read of the metadata written back: %v", err)
		}
		var w2 bytes.Buffer
		if err := gguf.Write(&w2, again.KVs, nil); err != nil || !bytes.Equal(w1.Bytes(), w2.Bytes()) {
			t.Fatalf("metadata changed on a second round trip (%v)", err)
		}
		for _, kv := range file.KVs {
			if v, ok := file.Get(kv.Key); !ok || !sameValue(v, kv.Value) {
				t.Fatalf("Get(%q) = %v, %v", kv.Key, v, ok)
			}
		}
	})
}

// sameValue compares scalars bit for bit (NaN included) and arrays by
// length.
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case float32:
		b, ok := b.(float32)
		return ok && math.Float32bits(a) == math.Float32bits(b)
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case gguf.Array:
		b, ok := b.(gguf.Array)
		return ok && a.Elem == b.Elem && a.Len() == b.Len()
	}
	return a == b
}
