package emu

import (
	"errors"
	"fmt"
	"math/bits"
)

// Integer and bit instructions (docs/ptx-isa-notes.md, "Integer
// arithmetic", "Logic and shift", "Comparison and selection"). Values are
// register bits; each operation reads its operands as its type (masked,
// sign-extended for .sN) and writes its result masked to the type.

var errSink = errors.New("the sink _ is not a valid destination here")

var intTypes = []ptype{tB16, tB32, tB64, tU16, tU32, tU64, tS16, tS32, tS64}

func init() {
	builders["add"] = arith("add")
	builders["sub"] = arith("sub")
	builders["mul"] = buildMul
	builders["div"] = arith("div")
	builders["rem"] = arith("rem")
	builders["min"] = arith("min")
	builders["max"] = arith("max")
	builders["neg"] = arith("neg")
	builders["abs"] = arith("abs")
	builders["and"] = logic("and")
	builders["or"] = logic("or")
	builders["xor"] = logic("xor")
	builders["not"] = logic("not")
	builders["shl"] = buildShift
	builders["shr"] = buildShift
	builders["bfe"] = buildBfe
	builders["bfi"] = buildBfi
	builders["selp"] = buildSelp
	builders["setp"] = buildSetp
	builders["mov"] = buildMov
	builders["popc"] = buildBitCount
	builders["clz"] = buildBitCount
	builders["mad"] = buildMad
}

// arith: add, sub, div, rem, min, max, neg, abs over integers, and over
// floats (ops_float.go).
func arith(name string) builder {
	return func(d *decoder, in *inst, o *opc, args []string) error {
		if len(o.types) != 1 {
			return fmt.Errorf("want one type")
		}
		t := o.types[0]
		if t.isFloat() {
			return floatArith(name, d, in, o, args)
		}
		if !t.isInt() || t.bits() < 16 {
			return fmt.Errorf("type .%s is not implemented", t)
		}
		if err := o.only(); err != nil {
			return err
		}
		n := 2
		if name == "neg" || name == "abs" {
			n = 1
		}
		if err := d.simple(in, args, n, t); err != nil {
			return err
		}
		mask := t.mask()
		sx := t.sext
		switch name {
		case "add":
			if mask == ^uint64(0) {
				in.exec = add64
			} else {
				in.exec = binop(func(a, b uint64) uint64 { return (a + b) & mask })
			}
		case "sub":
			in.exec = binop(func(a, b uint64) uint64 { return (a - b) & mask })
		case "neg":
			in.exec = unary(func(a uint64) uint64 { return -a & mask })
		case "abs":
			in.exec = unary(func(a uint64) uint64 {
				v := int64(sx(a))
				if v < 0 {
					v = -v
				}
				return uint64(v) & mask
			})
		case "min", "max":
			isMax := name == "max"
			in.exec = binop(func(a, b uint64) uint64 {
				x, y := sx(a), sx(b)
				less := x < y
				if t.signed() {
					less = int64(x) < int64(y)
				}
				if less != isMax {
					return x & mask
				}
				return y & mask
			})
		case "div", "rem":
			isRem := name == "rem"
			in.exec = func(w *warp, in *inst, m uint32) {
				dd, a, b := w.reg(in.dst[0]), w.reg(in.src[0]), w.reg(in.src[1])
				for s := m; s != 0; s &= s - 1 {
					l := bits.TrailingZeros32(s)
					x, y := sx(a[l]), sx(b[l])
					if y == 0 {
						// The ISA leaves the result unspecified; a kernel
						// that divides by zero has a bug.
						w.report(in, 1<<l, KindArith, "integer division by zero")
						dd[l] = mask
						continue
					}
					var r uint64
					switch {
					case t.signed() && isRem:
						r = uint64(int64(x) % int64(y))
					case t.signed():
						r = uint64(int64(x) / int64(y))
					case isRem:
						r = x % y
					default:
						r = x / y
					}
					dd[l] = r & mask
				}
			}
		}
		return nil
	}
}

func add64(w *warp, in *inst, m uint32) {
	d, a, b := w.reg(in.dst[0]), w.reg(in.src[0]), w.reg(in.src[1])
	if m == fullMask {
		for l := 0; l < warpSize; l++ {
			d[l] = a[l] + b[l]
		}
		return
	}
	for s := m; s != 0; s &= s - 1 {
		l := bits.TrailingZeros32(s)
		d[l] = a[l] + b[l]
	}
}

// buildMul: mul.lo/.hi/.wide over integers; mul over floats.
func buildMul(d *decoder, in *inst, o *opc, args []string) error {
	if len(o.types) != 1 {
		return fmt.Errorf("want one type")
	}
	t := o.types[0]
	if t.isFloat() {
		return floatArith("mul", d, in, o, args)
	}
	if !t.isInt() || t.bits() < 16 || (!t.signed() && t < tU8 && t != tB16 && t != tB32 && t != tB64) {
		return fmt.Errorf("type .%s is not implemented", t)
	}
	if err := o.only("lo", "hi", "wide"); err != nil {
		return err
	}
	if err := d.simple(in, args, 2, t); err != nil {
		return err
	}
	mask, sx, n := t.mask(), t.sext, t.bits()
	switch {
	case o.has("wide"):
		if n == 64 {
			return fmt.Errorf("mul.wide takes 16- or 32-bit operands")
		}
		wmask := uint64(1)<<(2*n) - 1
		if 2*n == 64 {
			wmask = ^uint64(0)
		}
		in.exec = binop(func(a, b uint64) uint64 { return sx(a) * sx(b) & wmask })
	case o.has("hi"):
		in.exec = binop(func(a, b uint64) uint64 {
			x, y := sx(a), sx(b)
			if n < 64 {
				if t.signed() {
					return uint64(int64(x)*int64(y)>>n) & mask
				}
				return x * y >> n & mask
			}
			hi, _ := bits.Mul64(x, y)
			if t.signed() { // signed high word from the unsigned one
				if int64(x) < 0 {
					hi -= y
				}
				if int64(y) < 0 {
					hi -= x
				}
			}
			return hi
		})
	default: // .lo (required for integers; the low half either way)
		in.exec = binop(func(a, b uint64) uint64 { return a * b & mask })
	}
	return nil
}

// buildMad: mad.lo d = a*b + c (low half).
func buildMad(d *decoder, in *inst, o *opc, args []string) error {
	t, err := oneType(o, intTypes...)
	if err != nil {
		return err
	}
	if err := o.only("lo"); err != nil || !o.has("lo") {
		return fmt.Errorf("only mad.lo is implemented")
	}
	if err := d.simple(in, args, 3, t); err != nil {
		return err
	}
	mask := t.mask()
	in.exec = ternary(func(a, b, c uint64) uint64 { return (a*b + c) & mask })
	return nil
}

// logic: and/or/xor/not over .pred and bit types.
func logic(name string) builder {
	return func(d *decoder, in *inst, o *opc, args []string) error {
		t, err := oneType(o, tPred, tB16, tB32, tB64)
		if err != nil {
			return err
		}
		if err := o.only(); err != nil {
			return err
		}
		n := 2
		if name == "not" {
			n = 1
		}
		if err := d.simple(in, args, n, t); err != nil {
			return err
		}
		mask := t.mask()
		if t == tPred {
			mask = 1
		}
		switch name {
		case "and":
			in.exec = binop(func(a, b uint64) uint64 { return a & b & mask })
		case "or":
			in.exec = binop(func(a, b uint64) uint64 { return (a | b) & mask })
		case "xor":
			in.exec = binop(func(a, b uint64) uint64 { return (a ^ b) & mask })
		case "not":
			in.exec = unary(func(a uint64) uint64 { return ^a & mask })
		}
		return nil
	}
}

// buildShift: shl.bN, shr.{bN,uN,sN}. The shift amount is an unsigned
// 32-bit value; amounts beyond the width are clamped to it.
func buildShift(d *decoder, in *inst, o *opc, args []string) error {
	t, err := oneType(o, intTypes...)
	if err != nil {
		return err
	}
	if err := o.only(); err != nil {
		return err
	}
	if err := d.typed(in, args, t, tU32); err != nil {
		return err
	}
	n := uint64(t.bits())
	mask, sx := t.mask(), t.sext
	if o.base == "shl" {
		in.exec = binop(func(a, b uint64) uint64 {
			s := b & 0xffffffff
			if s >= n {
				return 0
			}
			return a << s & mask
		})
		return nil
	}
	signed := t.signed()
	in.exec = binop(func(a, b uint64) uint64 {
		s := min(b&0xffffffff, n)
		if signed {
			return uint64(int64(sx(a))>>min(s, 63)) & mask
		}
		if s >= 64 {
			return 0
		}
		return (a & mask) >> s
	})
	return nil
}

// buildBfe: bit field extract, bfe.{u32,s32,u64,s64} d, a, pos, len.
func buildBfe(d *decoder, in *inst, o *opc, args []string) error {
	t, err := oneType(o, tU32, tS32, tU64, tS64)
	if err != nil {
		return err
	}
	if err := o.only(); err != nil {
		return err
	}
	if err := d.typed(in, args, t, tU32, tU32); err != nil {
		return err
	}
	msb := uint64(t.bits() - 1)
	mask, signed := t.mask(), t.signed()
	in.exec = ternary(func(a, p, n uint64) uint64 {
		pos, ln := p&0xff, n&0xff
		a &= mask
		var sbit uint64
		if signed && ln != 0 {
			sbit = a >> min(pos+ln-1, msb) & 1
		}
		var out uint64
		for i := uint64(0); i <= msb; i++ {
			bit := sbit
			if i < ln && pos+i <= msb {
				bit = a >> (pos + i) & 1
			}
			out |= bit << i
		}
		return out
	})
	return nil
}

// buildBfi: bit field insert, bfi.{b32,b64} f, a, b, pos, len: f is b
// with len bits of a inserted at pos.
func buildBfi(d *decoder, in *inst, o *opc, args []string) error {
	t, err := oneType(o, tB32, tB64)
	if err != nil {
		return err
	}
	if err := o.only(); err != nil {
		return err
	}
	if err := d.typed(in, args, t, t, tU32, tU32); err != nil {
		return err
	}
	msb := uint64(t.bits() - 1)
	mask := t.mask()
	in.exec = quaternary(func(a, b, p, n uint64) uint64 {
		pos, ln := p&0xff, n&0xff
		f := b & mask
		for i := uint64(0); i < ln && pos+i <= msb; i++ {
			f = f&^(1<<(pos+i)) | (a>>i&1)<<(pos+i)
		}
		return f
	})
	return nil
}

// buildSelp: selp.type d, a, b, c: d = c ? a : b.
func buildSelp(d *decoder, in *inst, o *opc, args []string) error {
	if len(o.types) != 1 || o.types[0] == tPred || o.types[0].bits() < 16 {
		return fmt.Errorf("type not implemented")
	}
	t := o.types[0]
	if err := o.only(); err != nil {
		return err
	}
	if err := d.typed(in, args, t, t, tPred); err != nil {
		return err
	}
	mask := t.mask()
	in.exec = ternary(func(a, b, c uint64) uint64 {
		if c&1 != 0 {
			return a & mask
		}
		return b & mask
	})
	return nil
}

// cmpOps are setp's comparisons; the u-suffixed float ones are unordered
// (true when either operand is NaN), the others ordered.
var cmpOps = map[string]bool{
	"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
	"lo": true, "ls": true, "hi": true, "hs": true,
	"equ": true, "neu": true, "ltu": true, "leu": true, "gtu": true, "geu": true, "num": true, "nan": true,
}

// buildSetp: setp.CmpOp[.BoolOp].type p[|q], a, b[, {!}c].
func buildSetp(d *decoder, in *inst, o *opc, args []string) error {
	if len(o.types) != 1 {
		return fmt.Errorf("want one type")
	}
	t := o.types[0]
	var cmp, boolOp string
	for _, m := range o.order {
		switch {
		case cmpOps[m] && cmp == "":
			cmp = m
		case (m == "and" || m == "or" || m == "xor") && boolOp == "":
			boolOp = m
		case m == "ftz" && t == tF32:
		default:
			return fmt.Errorf("modifier .%s is not implemented", m)
		}
	}
	if cmp == "" {
		return fmt.Errorf("no comparison")
	}
	if len(args) != 3 && !(boolOp != "" && len(args) == 4) {
		return fmt.Errorf("%d operands", len(args))
	}
	dsts := splitPipe(args[0])
	var p, q int32 = -1, -1
	var err error
	if p, err = d.dst(dsts[0]); err != nil {
		return err
	}
	if len(dsts) == 2 {
		if q, err = d.dst(dsts[1]); err != nil {
			return err
		}
	}
	ab, err := d.srcs(args[1:3], t)
	if err != nil {
		return err
	}
	in.src = ab
	negC := false
	if boolOp != "" {
		c := args[3]
		if len(c) > 0 && c[0] == '!' {
			negC, c = true, c[1:]
		}
		cr, err := d.src(c, tPred)
		if err != nil {
			return err
		}
		in.src = append(in.src, cr)
	}
	in.dst = []int32{p}
	if q >= 0 {
		in.dst = append(in.dst, q)
	}
	var f func(a, b uint64) bool
	switch {
	case t.isFloat():
		f, err = floatCompare(cmp, t, o.has("ftz"))
	case t.isInt() && t.bits() >= 16:
		f, err = intCompare(cmp, t)
	default:
		err = fmt.Errorf("type .%s is not implemented", t)
	}
	if err != nil {
		return err
	}
	combine := func(r bool, c uint64) bool {
		cb := c&1 != 0
		if negC {
			cb = !cb
		}
		switch boolOp {
		case "and":
			return r && cb
		case "or":
			return r || cb
		case "xor":
			return r != cb
		}
		return r
	}
	in.exec = func(w *warp, in *inst, m uint32) {
		a, b := w.reg(in.src[0]), w.reg(in.src[1])
		var c *[warpSize]uint64
		if len(in.src) == 3 {
			c = w.reg(in.src[2])
		}
		dp := w.reg(in.dst[0])
		var dq *[warpSize]uint64
		if len(in.dst) == 2 && in.dst[1] >= 0 {
			dq = w.reg(in.dst[1])
		}
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			r := f(a[l], b[l])
			var cv uint64
			if c != nil {
				cv = c[l]
			}
			dp[l] = b2u(combine(r, cv))
			if dq != nil {
				dq[l] = b2u(combine(!r, cv))
			}
		}
	}
	return nil
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func splitPipe(s string) []string {
	for i := 0; i < len(s); i++ {
		if s[i] == '|' {
			return []string{s[:i], s[i+1:]}
		}
	}
	return []string{s}
}

func intCompare(cmp string, t ptype) (func(a, b uint64) bool, error) {
	sx := t.sext
	signed := t.signed()
	lt := func(a, b uint64) bool {
		if signed {
			return int64(sx(a)) < int64(sx(b))
		}
		return sx(a) < sx(b)
	}
	eq := func(a, b uint64) bool { return sx(a) == sx(b) }
	switch cmp {
	case "eq":
		return eq, nil
	case "ne":
		return func(a, b uint64) bool { return !eq(a, b) }, nil
	case "lt", "lo":
		return lt, nil
	case "le", "ls":
		return func(a, b uint64) bool { return !lt(b, a) }, nil
	case "gt", "hi":
		return func(a, b uint64) bool { return lt(b, a) }, nil
	case "ge", "hs":
		return func(a, b uint64) bool { return !lt(a, b) }, nil
	}
	return nil, fmt.Errorf("comparison .%s is not defined for integers", cmp)
}

// buildMov: mov.type d, a (register, immediate, special register or a
// variable's address), and the vector forms that pack registers into a
// wider one (mov.b32 d, {lo, hi}) or unpack it (mov.b32 {lo, hi}, a); the
// first element is the least significant.
func buildMov(d *decoder, in *inst, o *opc, args []string) error {
	if len(o.types) != 1 {
		return fmt.Errorf("want one type")
	}
	t := o.types[0]
	if err := o.only(); err != nil {
		return err
	}
	if err := need(args, 2); err != nil {
		return err
	}
	mask := t.mask()
	if t == tPred {
		mask = 1
	}
	dv, sv := vector(args[0]), vector(args[1])
	switch {
	case len(dv) == 1 && len(sv) == 1:
		if err := d.simple(in, args, 1, t); err != nil {
			return err
		}
		in.exec = unary(func(a uint64) uint64 { return a & mask })
	case len(dv) == 1: // pack
		r, err := d.dst(dv[0])
		if err != nil || r < 0 {
			return fmt.Errorf("bad destination")
		}
		srcs, err := d.srcs(sv, tNone)
		if err != nil {
			return err
		}
		width := uint(t.bits()) / uint(len(sv))
		if width*uint(len(sv)) != t.bits() || width < 8 {
			return fmt.Errorf("cannot pack %d registers into .%s", len(sv), t)
		}
		em := uint64(1)<<width - 1
		in.dst, in.src = []int32{r}, srcs
		in.exec = func(w *warp, in *inst, m uint32) {
			dd := w.reg(in.dst[0])
			for s := m; s != 0; s &= s - 1 {
				l := bits.TrailingZeros32(s)
				var v uint64
				for i, sr := range in.src {
					v |= (w.reg(sr)[l] & em) << (width * uint(i))
				}
				dd[l] = v
			}
		}
	case len(sv) == 1: // unpack
		a, err := d.src(sv[0], t)
		if err != nil {
			return err
		}
		width := uint(t.bits()) / uint(len(dv))
		if width*uint(len(dv)) != t.bits() || width < 8 {
			return fmt.Errorf("cannot unpack .%s into %d registers", t, len(dv))
		}
		em := uint64(1)<<width - 1
		for _, x := range dv {
			r, err := d.dst(x)
			if err != nil {
				return err
			}
			in.dst = append(in.dst, r)
		}
		in.src = []int32{a}
		in.exec = func(w *warp, in *inst, m uint32) {
			av := w.reg(in.src[0])
			for i, r := range in.dst {
				if r < 0 {
					continue
				}
				dd := w.reg(r)
				for s := m; s != 0; s &= s - 1 {
					l := bits.TrailingZeros32(s)
					dd[l] = av[l] >> (width * uint(i)) & em
				}
			}
		}
	default:
		return fmt.Errorf("vector to vector mov")
	}
	return nil
}

// buildBitCount: popc and clz give a .u32 count.
func buildBitCount(d *decoder, in *inst, o *opc, args []string) error {
	t, err := oneType(o, tB32, tB64)
	if err != nil {
		return err
	}
	if err := o.only(); err != nil {
		return err
	}
	if err := d.simple(in, args, 1, t); err != nil {
		return err
	}
	n := t.bits()
	if o.base == "popc" {
		in.exec = unary(func(a uint64) uint64 { return uint64(bits.OnesCount64(a & t.mask())) })
	} else {
		in.exec = unary(func(a uint64) uint64 { return uint64(bits.LeadingZeros64(a&t.mask())) - uint64(64-n) })
	}
	return nil
}
