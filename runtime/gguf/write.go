package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"reflect"

	"github.com/deepc-dev/deepc/runtime"
)

// TensorSpec is a tensor to write: its dims in ggml order (ne[0]
// innermost), its storage type, and a function that returns its values in
// that order (row-major over the reversed dims), called once, when the
// tensor's data is written, so that one tensor at a time is in memory.
type TensorSpec struct {
	Name   string
	Dims   []int64
	Type   TensorType
	Values func() ([]float32, error)
}

// Write writes a GGUF file: the metadata in the order given, then the
// tensors. Keys and tensor names must be unique, a tensor has 1 to 4 dims
// (as Read requires); general.alignment, when given, must be a uint32
// power of two.
func Write(w io.Writer, kvs []KV, tensors []TensorSpec) error {
	alignment := int64(DefaultAlignment)
	keys := map[string]bool{}
	for _, kv := range kvs {
		if keys[kv.Key] {
			return fmt.Errorf("gguf: metadata key %q given twice", kv.Key)
		}
		keys[kv.Key] = true
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return fmt.Errorf("gguf: general.alignment must be a uint32 power of two, not %v", kv.Value)
			}
			alignment = int64(a)
		}
	}
	names := map[string]bool{}
	offsets := make([]int64, len(tensors))
	sizes := make([]int64, len(tensors))
	var off int64
	for i, t := range tensors {
		if names[t.Name] {
			return fmt.Errorf("gguf: tensor %q given twice", t.Name)
		}
		names[t.Name] = true
		if len(t.Dims) == 0 || len(t.Dims) > maxDims {
			return fmt.Errorf("gguf: tensor %s has %d dimensions (1 to %d)", t.Name, len(t.Dims), maxDims)
		}
		n, err := t.Type.Bytes(t.Dims)
		if err != nil {
			return fmt.Errorf("gguf: tensor %s: %v", t.Name, err)
		}
		if t.Type != F32 && t.Type != F16 && t.Type != BF16 && t.Type != Q8_0 {
			return fmt.Errorf("gguf: tensor %s: deepc cannot encode %s", t.Name, t.Type)
		}
		off = align(off, alignment)
		offsets[i], sizes[i] = off, n
		off += n
	}

	cw := &countWriter{w: bufio.NewWriterSize(w, 1<<20)}
	e := &encoder{w: cw}
	e.raw([]byte(Magic))
	e.u32(Version)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		e.value(kv.Value, true)
	}
	for i, t := range tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(uint64(d))
		}
		e.u32(uint32(t.Type))
		e.u64(uint64(offsets[i]))
	}
	if e.err != nil {
		return e.err
	}
	e.pad(alignment)
	start := cw.n
	for i, t := range tensors {
		e.pad(alignment)
		if e.err != nil {
			return e.err
		}
		if cw.n-start != offsets[i] {
			return fmt.Errorf("gguf: tensor %s lands at %d, not at its offset %d", t.Name, cw.n-start, offsets[i])
		}
		vals, err := t.Values()
		if err != nil {
			return fmt.Errorf("gguf: tensor %s: %w", t.Name, err)
		}
		data, err := Encode(t.Type, vals)
		if err != nil {
			return fmt.Errorf("gguf: tensor %s: %w", t.Name, err)
		}
		if int64(len(data)) != sizes[i] {
			return fmt.Errorf("gguf: tensor %s: %d values for dims %v", t.Name, len(vals), t.Dims)
		}
		e.raw(data)
	}
	if e.err != nil {
		return e.err
	}
	return cw.w.(*bufio.Writer).Flush()
}

// Encode stores values as type t: F32 exactly, F16 and BF16 rounded to
// nearest even, Q8_0 in blocks of 32 (an f16 scale d = max|x|/127, then
// round(x/d) as int8; ggml's reference quantization).
func Encode(t TensorType, v []float32) ([]byte, error) {
	switch t {
	case F32:
		out := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
		}
		return out, nil
	case F16, BF16:
		out := make([]byte, 2*len(v))
		for i, x := range v {
			var h uint16
			if t == F16 {
				h = runtime.F32ToF16Bits(x)
			} else {
				h = runtime.F32ToBF16Bits(x)
			}
			binary.LittleEndian.PutUint16(out[2*i:], h)
		}
		return out, nil
	case Q8_0:
		if len(v)%32 != 0 {
			return nil, fmt.Errorf("Q8_0 needs a multiple of 32 values, got %d", len(v))
		}
		out := make([]byte, 0, len(v)/32*34)
		for b := 0; b < len(v); b += 32 {
			blk := v[b : b+32]
			var amax float32
			for _, x := range blk {
				amax = max(amax, float32(math.Abs(float64(x))))
			}
			d := amax / 127
			id := float32(0)
			if d != 0 {
				id = 1 / d
			}
			out = binary.LittleEndian.AppendUint16(out, runtime.F32ToF16Bits(d))
			for _, x := range blk {
				out = append(out, byte(int8(math.Round(float64(x*id)))))
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("deepc cannot encode %s", t)
}

// Decode turns stored data of type t back into values (F32, F16, BF16,
// Q8_0).
func Decode(t TensorType, data []byte) ([]float32, error) {
	switch t {
	case F32:
		if len(data)%4 != 0 {
			return nil, fmt.Errorf("F32 data of %d bytes", len(data))
		}
		out := make([]float32, len(data)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		return out, nil
	case F16, BF16:
		if len(data)%2 != 0 {
			return nil, fmt.Errorf("%s data of %d bytes", t, len(data))
		}
		out := make([]float32, len(data)/2)
		for i := range out {
			h := binary.LittleEndian.Uint16(data[2*i:])
			if t == F16 {
				out[i] = runtime.F16BitsToF32(h)
			} else {
				out[i] = runtime.BF16BitsToF32(h)
			}
		}
		return out, nil
	case Q8_0:
		if len(data)%34 != 0 {
			return nil, fmt.Errorf("Q8_0 data of %d bytes is not whole blocks", len(data))
		}
		out := make([]float32, 0, len(data)/34*32)
		for b := 0; b < len(data); b += 34 {
			d := runtime.F16BitsToF32(binary.LittleEndian.Uint16(data[b:]))
			for _, q := range data[b+2 : b+34] {
				out = append(out, d*float32(int8(q)))
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("deepc cannot decode %s", t)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian values and keeps the first error.
type encoder struct {
	w     *countWriter
	err   error
	buf   [8]byte
	depth int // arrays being written, nested
}

func (e *encoder) raw(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:4], v)
	e.raw(e.buf[:4])
}

func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.raw(e.buf[:])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
}

func (e *encoder) pad(a int64) {
	if n := align(e.w.n, a) - e.w.n; n > 0 {
		e.raw(make([]byte, n))
	}
}

// value writes a value, with its type tag when tagged (array elements are
// not tagged one by one).
func (e *encoder) value(v any, tagged bool) {
	t, ok := valueTypes[reflect.TypeOf(v)]
	if !ok {
		if e.err == nil {
			e.err = fmt.Errorf("gguf: cannot write a metadata value of type %T", v)
		}
		return
	}
	if tagged {
		e.u32(uint32(t))
	}
	le := binary.LittleEndian
	switch v := v.(type) {
	case uint8:
		e.raw([]byte{v})
	case int8:
		e.raw([]byte{byte(v)})
	case uint16:
		e.raw(le.AppendUint16(nil, v))
	case int16:
		e.raw(le.AppendUint16(nil, uint16(v)))
	case uint32:
		e.u32(v)
	case int32:
		e.u32(uint32(v))
	case float32:
		e.u32(math.Float32bits(v))
	case bool:
		e.raw([]byte{map[bool]byte{false: 0, true: 1}[v]})
	case string:
		e.str(v)
	case uint64:
		e.u64(v)
	case int64:
		e.u64(uint64(v))
	case float64:
		e.u64(math.Float64bits(v))
	case Array:
		e.array(v)
	}
}

// array writes an array's element type, count and elements.
func (e *encoder) array(a Array) {
	if e.err == nil && reflect.ValueOf(a.Values).Kind() != reflect.Slice {
		e.err = fmt.Errorf("gguf: an array's values must be a slice, not %T", a.Values)
	}
	if e.depth++; e.depth > maxDepth && e.err == nil {
		e.err = fmt.Errorf("gguf: arrays nested more than %d deep (readers refuse them)", maxDepth)
	}
	defer func() { e.depth-- }()
	e.u32(uint32(a.Elem))
	e.u64(uint64(a.Len()))
	each(a, func(x any) {
		if t, ok := valueTypes[reflect.TypeOf(x)]; (!ok || t != a.Elem) && e.err == nil {
			e.err = fmt.Errorf("gguf: array of type %d holds a %T", a.Elem, x)
		}
		e.value(x, false)
	})
}

// valueTypes are the Go types of metadata values and their tags.
var valueTypes = map[reflect.Type]ValueType{
	reflect.TypeOf(uint8(0)): TypeUint8, reflect.TypeOf(int8(0)): TypeInt8,
	reflect.TypeOf(uint16(0)): TypeUint16, reflect.TypeOf(int16(0)): TypeInt16,
	reflect.TypeOf(uint32(0)): TypeUint32, reflect.TypeOf(int32(0)): TypeInt32,
	reflect.TypeOf(float32(0)): TypeFloat32, reflect.TypeOf(false): TypeBool,
	reflect.TypeOf(""): TypeString, reflect.TypeOf(Array{}): TypeArray,
	reflect.TypeOf(uint64(0)): TypeUint64, reflect.TypeOf(int64(0)): TypeInt64,
	reflect.TypeOf(float64(0)): TypeFloat64,
}

// each calls fn on every element of a.
func each(a Array, fn func(any)) {
	v := reflect.ValueOf(a.Values)
	if v.Kind() != reflect.Slice {
		return
	}
	for i := range v.Len() {
		fn(v.Index(i).Interface())
	}
}
