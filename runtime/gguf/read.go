package gguf

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
)

// File is a parsed GGUF header.
type File struct {
	Version   uint32
	KVs       []KV
	Tensors   []TensorInfo
	Alignment int64
	// DataOffset is where the data section begins in the file.
	DataOffset int64

	r io.ReaderAt
}

// TensorInfo describes one tensor; Offset is relative to the data section.
type TensorInfo struct {
	Name   string
	Dims   []int64
	Type   TensorType
	Offset int64
	Size   int64
}

// Limits on what a header may claim; every count is also checked against
// the bytes left in the file before anything is allocated for it.
const (
	maxString = 1 << 30
	maxDims   = 4 // GGML_MAX_DIMS
	maxDepth  = 4 // nested arrays
	// maxPrealloc caps the room made for an array's strings or arrays
	// before they are read: a count the bytes left could hold may still
	// be a lie (a sparse file), and append grows the rest.
	maxPrealloc = 1 << 16
)

// Read parses the header of a GGUF file of size bytes. It checks what a
// hostile file could get wrong: the magic and version, every length and
// count against the bytes left, value types, tensor types and dims, that
// each tensor's data lies inside the file at an aligned offset and that no
// two tensors overlap or share a name.
func Read(r io.ReaderAt, size int64) (*File, error) {
	d := &decoder{r: r, size: size}
	if string(d.bytes(4)) != Magic {
		if d.err != nil {
			return nil, fmt.Errorf("gguf: %w", d.err)
		}
		return nil, errors.New("gguf: not a GGUF file (no GGUF magic)")
	}
	f := &File{r: r, Alignment: DefaultAlignment}
	f.Version = d.u32()
	if d.err == nil && (f.Version < 2 || f.Version > Version) {
		return nil, fmt.Errorf("gguf: version %d (deepc reads versions 2 and 3)", f.Version)
	}
	nt, nkv := d.u64(), d.u64()
	// Every KV takes at least 12 bytes (an empty key, a type), every
	// tensor info at least 24.
	if d.err == nil && (nkv > uint64(d.left())/12 || nt > uint64(d.left())/24) {
		return nil, fmt.Errorf("gguf: the header claims %d metadata entries and %d tensors, more than %d bytes can hold", nkv, nt, size)
	}
	seen := map[string]bool{}
	for i := uint64(0); i < nkv && d.err == nil; i++ {
		key := d.str()
		typ := ValueType(d.u32())
		v := d.value(typ, 0)
		if d.err != nil {
			return nil, fmt.Errorf("gguf: metadata entry %d (%q): %w", i, key, d.err)
		}
		if seen[key] {
			return nil, fmt.Errorf("gguf: metadata key %q appears twice", key)
		}
		seen[key] = true
		f.KVs = append(f.KVs, KV{key, v})
		if key == "general.alignment" {
			a, ok := v.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return nil, fmt.Errorf("gguf: general.alignment must be a uint32 power of two, not %v", v)
			}
			f.Alignment = int64(a)
		}
	}
	names := map[string]bool{}
	for i := uint64(0); i < nt && d.err == nil; i++ {
		var t TensorInfo
		t.Name = d.str()
		nd := d.u32()
		if d.err == nil && (nd == 0 || nd > maxDims) {
			return nil, fmt.Errorf("gguf: tensor %q has %d dimensions (1 to %d)", t.Name, nd, maxDims)
		}
		for range nd {
			v := d.u64()
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("gguf: tensor %q: dimension %d out of range", t.Name, v)
			}
			t.Dims = append(t.Dims, int64(v))
		}
		t.Type = TensorType(d.u32())
		off := d.u64()
		if d.err != nil {
			return nil, fmt.Errorf("gguf: tensor %d: %w", i, d.err)
		}
		if names[t.Name] {
			return nil, fmt.Errorf("gguf: tensor %q appears twice", t.Name)
		}
		names[t.Name] = true
		n, err := t.Type.Bytes(t.Dims)
		if err != nil {
			return nil, fmt.Errorf("gguf: tensor %q: %v", t.Name, err)
		}
		if off > math.MaxInt64 || int64(off)%f.Alignment != 0 {
			return nil, fmt.Errorf("gguf: tensor %q: offset %d is not a multiple of the alignment %d", t.Name, off, f.Alignment)
		}
		t.Offset, t.Size = int64(off), n
		f.Tensors = append(f.Tensors, t)
	}
	if d.err != nil {
		return nil, fmt.Errorf("gguf: %w", d.err)
	}
	f.DataOffset = align(d.pos, f.Alignment)
	data := size - f.DataOffset
	var end int64
	for _, t := range sortedByOffset(f.Tensors) {
		if t.Offset < end {
			return nil, fmt.Errorf("gguf: tensor %q overlaps the tensor before it", t.Name)
		}
		if t.Offset > data || t.Size > data-t.Offset {
			return nil, fmt.Errorf("gguf: tensor %q (%d bytes at %d) ends past the file's %d data bytes", t.Name, t.Size, t.Offset, max(data, 0))
		}
		end = t.Offset + t.Size
	}
	return f, nil
}

func sortedByOffset(ts []TensorInfo) []TensorInfo {
	out := slices.Clone(ts)
	slices.SortFunc(out, func(a, b TensorInfo) int { return cmp.Compare(a.Offset, b.Offset) })
	return out
}

// Get returns the value of key.
func (f *File) Get(key string) (any, bool) {
	for _, kv := range f.KVs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Tensor returns the named tensor's description.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// Values reads a tensor's data and decodes it.
func (f *File) Values(t TensorInfo) ([]float32, error) {
	buf := make([]byte, t.Size)
	if err := readAt(f.r, buf, f.DataOffset+t.Offset); err != nil {
		return nil, fmt.Errorf("gguf: tensor %s: %w", t.Name, err)
	}
	return Decode(t.Type, buf)
}

// readAt fills buf from offset off. A ReaderAt may return io.EOF with a
// full buffer that ends its input (and bytes.Reader does for an empty one
// at the end): only a short read is an error.
func readAt(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// decoder reads little-endian values, checking every length against the
// bytes left; it keeps the first error.
type decoder struct {
	r    io.ReaderAt
	size int64
	pos  int64
	err  error
}

func (d *decoder) left() int64 { return d.size - d.pos }

func (d *decoder) bytes(n int64) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.left() {
		d.err = fmt.Errorf("truncated: %d bytes wanted at offset %d, %d left", n, d.pos, max(d.left(), 0))
		return nil
	}
	buf := make([]byte, n)
	if err := readAt(d.r, buf, d.pos); err != nil {
		d.err = err
		return nil
	}
	d.pos += n
	return buf
}

func (d *decoder) u32() uint32 {
	if b := d.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) str() string {
	n := d.u64()
	if d.err == nil && n > maxString {
		d.err = fmt.Errorf("a string of %d bytes", n)
	}
	return string(d.bytes(int64(n)))
}

// value reads a value of type t (depth counts nested arrays).
func (d *decoder) value(t ValueType, depth int) any {
	if d.err != nil {
		return nil
	}
	switch t {
	case TypeString:
		return d.str()
	case TypeArray:
		if depth >= maxDepth {
			d.err = fmt.Errorf("arrays nested more than %d deep", maxDepth)
			return nil
		}
		et, n := ValueType(d.u32()), d.u64()
		min := uint64(8) // a string's length
		if et != TypeString && et != TypeArray {
			sz, ok := scalarSize[et]
			if !ok {
				d.err = fmt.Errorf("array of unknown value type %d", et)
				return nil
			}
			min = uint64(sz)
		} else if et == TypeArray {
			min = 12
		}
		if d.err == nil && n > uint64(d.left())/min {
			d.err = fmt.Errorf("an array of %d elements does not fit in the %d bytes left", n, d.left())
			return nil
		}
		return d.array(et, int(n), depth)
	}
	sz, ok := scalarSize[t]
	if !ok {
		d.err = fmt.Errorf("unknown value type %d", t)
		return nil
	}
	b := d.bytes(int64(sz))
	if b == nil {
		return nil
	}
	return scalar(t, b)
}

func scalar(t ValueType, b []byte) any {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return b[0]
	case TypeInt8:
		return int8(b[0])
	case TypeUint16:
		return le.Uint16(b)
	case TypeInt16:
		return int16(le.Uint16(b))
	case TypeUint32:
		return le.Uint32(b)
	case TypeInt32:
		return int32(le.Uint32(b))
	case TypeFloat32:
		return math.Float32frombits(le.Uint32(b))
	case TypeBool:
		return b[0] != 0
	case TypeUint64:
		return le.Uint64(b)
	case TypeInt64:
		return int64(le.Uint64(b))
	case TypeFloat64:
		return math.Float64frombits(le.Uint64(b))
	}
	return nil
}

// array reads n elements of type et into a typed slice.
func (d *decoder) array(et ValueType, n, depth int) Array {
	a := Array{Elem: et}
	switch et {
	case TypeString:
		v := make([]string, 0, min(n, maxPrealloc))
		for i := 0; i < n && d.err == nil; i++ {
			v = append(v, d.str())
		}
		a.Values = v
	case TypeArray:
		v := make([]Array, 0, min(n, maxPrealloc))
		for i := 0; i < n && d.err == nil; i++ {
			x, _ := d.value(TypeArray, depth+1).(Array)
			v = append(v, x)
		}
		a.Values = v
	default:
		sz := scalarSize[et]
		b := d.bytes(int64(n) * int64(sz))
		if b == nil {
			return a
		}
		a.Values = typedSlice(et, b, n, sz)
	}
	return a
}

// typedSlice decodes n scalars of type et (sz bytes each) from b into a
// slice of their Go type ([]int32 for TypeInt32, ...), the form Write
// takes, without boxing each one on the way.
func typedSlice(et ValueType, b []byte, n, sz int) any {
	typ := reflect.TypeOf(scalar(et, make([]byte, 8)))
	s := reflect.MakeSlice(reflect.SliceOf(typ), n, n)
	for i := range n {
		s.Index(i).Set(reflect.ValueOf(scalar(et, b[i*sz:(i+1)*sz])))
	}
	return s.Interface()
}
