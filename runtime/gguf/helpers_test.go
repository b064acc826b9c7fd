package gguf_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/deepc-dev/deepc/runtime/gguf"
)

// builder assembles GGUF bytes by hand, field by field, from the spec
// (little-endian; a string is a u64 length then its bytes), so that tests
// can state exact layouts and craft hostile files.
type builder struct{ b []byte }

func (w *builder) u8(v uint8) *builder { w.b = append(w.b, v); return w }
func (w *builder) u16(v uint16) *builder {
	w.b = binary.LittleEndian.AppendUint16(w.b, v)
	return w
}
func (w *builder) u32(v uint32) *builder {
	w.b = binary.LittleEndian.AppendUint32(w.b, v)
	return w
}
func (w *builder) u64(v uint64) *builder {
	w.b = binary.LittleEndian.AppendUint64(w.b, v)
	return w
}
func (w *builder) f32(v float32) *builder { return w.u32(math.Float32bits(v)) }
func (w *builder) raw(p ...byte) *builder { w.b = append(w.b, p...); return w }
func (w *builder) str(s string) *builder {
	w.u64(uint64(len(s)))
	w.b = append(w.b, s...)
	return w
}

// header writes the magic, version 3 and the two counts.
func (w *builder) header(nTensors, nKV uint64) *builder {
	return w.raw('G', 'G', 'U', 'F').u32(3).u64(nTensors).u64(nKV)
}

// kvU32 writes a key with a uint32 value (type tag 4).
func (w *builder) kvU32(key string, v uint32) *builder { return w.str(key).u32(4).u32(v) }

// tensor writes one tensor info.
func (w *builder) tensor(name string, dims []uint64, typ uint32, off uint64) *builder {
	w.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		w.u64(d)
	}
	return w.u32(typ).u64(off)
}

// pad appends zeros up to a multiple of a.
func (w *builder) pad(a int) *builder {
	for len(w.b)%a != 0 {
		w.b = append(w.b, 0)
	}
	return w
}

// zeros appends n zero bytes.
func (w *builder) zeros(n int) *builder {
	w.b = append(w.b, make([]byte, n)...)
	return w
}

func (w *builder) bytes() []byte { return append([]byte(nil), w.b...) }

// read parses b with gguf.Read.
func read(b []byte) (*gguf.File, error) {
	return gguf.Read(bytes.NewReader(b), int64(len(b)))
}

// write runs gguf.Write into a buffer.
func write(t testing.TB, kvs []gguf.KV, ts []gguf.TensorSpec) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gguf.Write(&buf, kvs, ts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// vals returns a TensorSpec.Values function giving v.
func vals(v []float32) func() ([]float32, error) {
	return func() ([]float32, error) { return v, nil }
}

// seq returns n values, deterministic, of assorted signs and magnitudes.
func seq(n int, seed uint32) []float32 {
	out := make([]float32, n)
	x := seed*2654435761 + 1
	for i := range out {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		out[i] = (float32(x%20001) - 10000) / 1000 // [-10, 10], steps of 0.001
	}
	return out
}
