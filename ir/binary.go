package ir

import (
	bin "encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The binary form is the text form's content in a compact encoding, for
// the plugin protocol: a pass on the full model would otherwise spend most
// of its round trip printing and parsing text. Decode(Encode(m)) prints
// exactly as m does. Layout (varints are Go's encoding/binary ones):
//
//	module:  magic, str name, attrs, n×param, n×composite, n×func
//	param:   str name, type, attrs
//	func:    str name, n×(str arg name, type), n×op, n×result ref
//	op:      str name, n×arg ref, attrs, n×result type, str file, line, col
//	type:    dtype byte, n×(str sym, varint N, varint Mul)
//	attrs:   n×(str key, tag byte, value)
//	str:     uvarint i; i = 0: a new string (uvarint length, bytes), else
//	         the (i-1)th string read so far
//
// where n× is a uvarint count and a ref numbers a function's values:
// arguments first, then op results in order.
const binaryMagic = "deepcir\x01"

// Attribute value tags.
const (
	tagInt byte = iota + 1
	tagFloat
	tagString
	tagBool
	tagDType
	tagInts
	tagFloats
	tagShape
	tagDict
)

// maxAttrDepth bounds nested dicts in decoding (hostile input).
const maxAttrDepth = 64

type encoder struct {
	b    []byte
	strs map[string]int
}

// Encode writes m in the binary form.
func Encode(m *Module) []byte {
	e := &encoder{b: make([]byte, 0, 1<<16), strs: map[string]int{}}
	e.b = append(e.b, binaryMagic...)
	e.str(m.Name)
	e.attrs(m.Attrs)
	e.uint(len(m.Params))
	for _, p := range m.Params {
		e.str(p.Name)
		e.typ(p.Type)
		e.attrs(p.Attrs)
	}
	cs := usedComposites(m)
	e.uint(len(cs))
	for _, d := range cs {
		e.fn(&Func{Name: d.Name, Args: d.Body.Args, Body: d.Body.Body, Results: d.Body.Results})
	}
	e.uint(len(m.Funcs))
	for _, f := range m.Funcs {
		e.fn(f)
	}
	return e.b
}

func (e *encoder) uint(n int)      { e.b = bin.AppendUvarint(e.b, uint64(n)) }
func (e *encoder) int(n int64)     { e.b = bin.AppendVarint(e.b, n) }
func (e *encoder) float(f float64) { e.b = bin.LittleEndian.AppendUint64(e.b, math.Float64bits(f)) }

func (e *encoder) str(s string) {
	if i, ok := e.strs[s]; ok {
		e.uint(i + 1)
		return
	}
	e.strs[s] = len(e.strs)
	e.uint(0)
	e.uint(len(s))
	e.b = append(e.b, s...)
}

func (e *encoder) typ(t Type) {
	e.b = append(e.b, byte(t.DType))
	e.dims(t.Shape)
}

func (e *encoder) dims(s Shape) {
	e.uint(len(s))
	for _, d := range s {
		e.str(d.Sym)
		e.int(d.N)
		e.int(d.Mul)
	}
}

func (e *encoder) fn(f *Func) {
	ids := make(map[*Value]int, len(f.Args)+len(f.Body))
	e.str(f.Name)
	e.uint(len(f.Args))
	for _, a := range f.Args {
		ids[a] = len(ids)
		e.str(a.Name)
		e.typ(a.Type)
	}
	e.uint(len(f.Body))
	for _, op := range f.Body {
		e.str(op.Name)
		e.uint(len(op.Args))
		for _, a := range op.Args {
			e.ref(ids, a)
		}
		e.attrs(op.Attrs)
		e.uint(len(op.Results))
		for _, r := range op.Results {
			ids[r] = len(ids)
			e.typ(r.Type)
		}
		e.str(op.Loc.File)
		e.uint(op.Loc.Line)
		e.uint(op.Loc.Col)
	}
	e.uint(len(f.Results))
	for _, r := range f.Results {
		e.ref(ids, r)
	}
}

// ref writes a value's number; a value from outside the function (a
// malformed module) gets one past the last, which decoding refuses.
func (e *encoder) ref(ids map[*Value]int, v *Value) {
	if id, ok := ids[v]; ok {
		e.uint(id)
		return
	}
	e.uint(len(ids))
}

func (e *encoder) attrs(a Attrs) {
	keys := a.Keys()
	e.uint(len(keys))
	for _, k := range keys {
		e.str(k)
		e.value(a[k])
	}
}

func (e *encoder) value(v any) {
	switch v := v.(type) {
	case int64:
		e.b = append(e.b, tagInt)
		e.int(v)
	case float64:
		e.b = append(e.b, tagFloat)
		e.float(v)
	case string:
		e.b = append(e.b, tagString)
		e.str(v)
	case bool:
		e.b = append(e.b, tagBool)
		if v {
			e.b = append(e.b, 1)
		} else {
			e.b = append(e.b, 0)
		}
	case DType:
		e.b = append(e.b, tagDType, byte(v))
	case []int64:
		e.b = append(e.b, tagInts)
		e.uint(len(v))
		for _, n := range v {
			e.int(n)
		}
	case []float64:
		e.b = append(e.b, tagFloats)
		e.uint(len(v))
		for _, f := range v {
			e.float(f)
		}
	case Shape:
		e.b = append(e.b, tagShape)
		e.dims(v)
	case Attrs:
		e.b = append(e.b, tagDict)
		e.attrs(v)
	default:
		// The verifier refuses such a value; carrying it as text keeps
		// the encoding total.
		e.b = append(e.b, tagString)
		e.str(fmt.Sprint(v))
	}
}

type decoder struct {
	b    []byte
	strs []string
	err  error
}

var errShort = errors.New("truncated")

// Decode reads a module in the binary form. It checks the encoding (counts
// against the bytes left, value numbers, op names, dtypes), not the
// module: run Verify on what it returns.
func Decode(b []byte) (m *Module, err error) {
	if len(b) < len(binaryMagic) || string(b[:len(binaryMagic)]) != binaryMagic {
		return nil, errors.New("ir: not a binary module (bad magic)")
	}
	d := &decoder{b: b[len(binaryMagic):]}
	m = &Module{Name: d.str(), Attrs: d.attrs(0)}
	for n := d.count(3); n > 0 && d.err == nil; n-- {
		m.Params = append(m.Params, &Param{Name: d.str(), Type: d.typ(), Attrs: d.attrs(0)})
	}
	for n := d.count(3); n > 0 && d.err == nil; n-- {
		f := d.fn()
		if d.err == nil {
			if _, err := DeclareComposite(f.Name, f); err != nil {
				d.fail(err)
			}
		}
	}
	for n := d.count(3); n > 0 && d.err == nil; n-- {
		m.Funcs = append(m.Funcs, d.fn())
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail(fmt.Errorf("%d bytes after the module", len(d.b)))
	}
	if d.err != nil {
		consumed := len(b) - len(binaryMagic) - len(d.b)
		return nil, fmt.Errorf("ir: binary module, at byte %d: %w", consumed+len(binaryMagic), d.err)
	}
	return m, nil
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) uint() uint64 { return varint(d, bin.Uvarint) }
func (d *decoder) int() int64   { return varint(d, bin.Varint) }

func varint[T uint64 | int64](d *decoder, read func([]byte) (T, int)) T {
	if d.err != nil {
		return 0
	}
	n, k := read(d.b)
	if k <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[k:]
	return n
}

// count reads a count of items that take at least min bytes each, so
// that no count can make the decoder allocate more than the input holds.
func (d *decoder) count(min int) int {
	n := d.uint()
	if n > uint64(len(d.b)/min) {
		d.fail(fmt.Errorf("a count of %d for %d bytes left", n, len(d.b)))
		return 0
	}
	return int(n)
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(errShort)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail(errShort)
		return 0
	}
	f := math.Float64frombits(bin.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

func (d *decoder) str() string {
	i := d.uint()
	if d.err != nil {
		return ""
	}
	if i > 0 {
		if i > uint64(len(d.strs)) {
			d.fail(fmt.Errorf("string %d of %d", i-1, len(d.strs)))
			return ""
		}
		return d.strs[i-1]
	}
	n := d.count(1)
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	d.strs = append(d.strs, s)
	return s
}

func (d *decoder) typ() Type {
	t := Type{DType: DType(d.byte())}
	if d.err == nil && !t.DType.Valid() {
		d.fail(fmt.Errorf("dtype %d", t.DType))
	}
	t.Shape = d.dims()
	return t
}

func (d *decoder) dims() Shape {
	return list(d, 3, func() Dim { return Dim{Sym: d.str(), N: d.int(), Mul: d.int()} })
}

// list reads a count, then that many items of at least min bytes each.
func list[T any](d *decoder, min int, read func() T) []T {
	n := d.count(min)
	v := make([]T, 0, n)
	for ; n > 0 && d.err == nil; n-- {
		v = append(v, read())
	}
	return v
}

func (d *decoder) fn() *Func {
	f := &Func{Name: d.str()}
	var vals []*Value
	for n := d.count(2); n > 0 && d.err == nil; n-- {
		a := &Value{Name: d.str(), Index: len(f.Args)}
		a.Type = d.typ()
		f.Args = append(f.Args, a)
		vals = append(vals, a)
	}
	for n := d.count(7); n > 0 && d.err == nil; n-- {
		op := &Op{Name: d.str()}
		if d.err == nil && Lookup(op.Name) == nil {
			d.fail(fmt.Errorf("unknown op %q", op.Name))
		}
		for k := d.count(1); k > 0 && d.err == nil; k-- {
			op.Args = append(op.Args, d.ref(vals))
		}
		op.Attrs = d.attrs(0)
		for k := d.count(2); k > 0 && d.err == nil; k-- {
			r := &Value{Def: op, Index: len(op.Results), Type: d.typ()}
			op.Results = append(op.Results, r)
			vals = append(vals, r)
		}
		op.Loc = Loc{File: d.str(), Line: d.small(), Col: d.small()}
		f.Body = append(f.Body, op)
	}
	for n := d.count(1); n > 0 && d.err == nil; n-- {
		f.Results = append(f.Results, d.ref(vals))
	}
	return f
}

func (d *decoder) small() int {
	n := d.uint()
	if n > math.MaxInt32 {
		d.fail(fmt.Errorf("line or column %d", n))
	}
	return int(n)
}

func (d *decoder) ref(vals []*Value) *Value {
	i := d.uint()
	if d.err == nil && i >= uint64(len(vals)) {
		d.fail(fmt.Errorf("value %d used before it is defined (%d so far)", i, len(vals)))
		return nil
	}
	if d.err != nil {
		return nil
	}
	return vals[i]
}

func (d *decoder) attrs(depth int) Attrs {
	n := d.count(3)
	if n == 0 || d.err != nil {
		return nil
	}
	if depth > maxAttrDepth {
		d.fail(fmt.Errorf("attributes nested more than %d deep", maxAttrDepth))
		return nil
	}
	a := make(Attrs, n)
	for ; n > 0 && d.err == nil; n-- {
		k := d.str()
		a[k] = d.value(depth)
	}
	return a
}

func (d *decoder) value(depth int) any {
	switch tag := d.byte(); tag {
	case tagInt:
		return d.int()
	case tagFloat:
		return d.float()
	case tagString:
		return d.str()
	case tagBool:
		return d.byte() != 0
	case tagDType:
		dt := DType(d.byte())
		if d.err == nil && !dt.Valid() {
			d.fail(fmt.Errorf("dtype %d", dt))
		}
		return dt
	case tagInts:
		return list(d, 1, d.int)
	case tagFloats:
		return list(d, 8, d.float)
	case tagShape:
		return ShapeAttr(d.dims()) // as the text form reads it back
	case tagDict:
		a := d.attrs(depth + 1)
		if a == nil {
			a = Attrs{}
		}
		return a
	default:
		if d.err == nil {
			d.fail(fmt.Errorf("attribute tag %d", tag))
		}
		return nil
	}
}
