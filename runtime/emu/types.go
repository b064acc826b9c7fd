package emu

// ptype is a PTX fundamental type as an instruction names it.
type ptype uint8

const (
	tNone ptype = iota
	tB8
	tB16
	tB32
	tB64
	tU8
	tU16
	tU32
	tU64
	tS8
	tS16
	tS32
	tS64
	tF16
	tBF16
	tF32
	tF64
	tPred
	tF16x2
	tBF16x2
	tE4M3
	tE5M2
	tE4M3x2
	tE5M2x2
	tTF32
)

var typeNames = map[string]ptype{
	"b8": tB8, "b16": tB16, "b32": tB32, "b64": tB64,
	"u8": tU8, "u16": tU16, "u32": tU32, "u64": tU64,
	"s8": tS8, "s16": tS16, "s32": tS32, "s64": tS64,
	"f16": tF16, "bf16": tBF16, "f32": tF32, "f64": tF64, "pred": tPred,
	"f16x2": tF16x2, "bf16x2": tBF16x2, "e4m3": tE4M3, "e5m2": tE5M2,
	"e4m3x2": tE4M3x2, "e5m2x2": tE5M2x2, "tf32": tTF32,
}

func (t ptype) String() string {
	for n, v := range typeNames {
		if v == t {
			return n
		}
	}
	return "?"
}

// bits is the type's width.
func (t ptype) bits() uint {
	switch t {
	case tB8, tU8, tS8, tE4M3, tE5M2, tPred:
		return 8
	case tB16, tU16, tS16, tF16, tBF16, tE4M3x2, tE5M2x2:
		return 16
	case tB32, tU32, tS32, tF32, tF16x2, tBF16x2, tTF32:
		return 32
	case tB64, tU64, tS64, tF64:
		return 64
	}
	return 0
}

func (t ptype) bytes() int { return int(t.bits() / 8) }

func (t ptype) signed() bool { return t == tS8 || t == tS16 || t == tS32 || t == tS64 }

// isInt: bit-size, unsigned and signed integer types.
func (t ptype) isInt() bool { return t >= tB8 && t <= tS64 }

func (t ptype) isFloat() bool { return t == tF16 || t == tBF16 || t == tF32 || t == tF64 }

// mask keeps the type's bits of a register value.
func (t ptype) mask() uint64 {
	b := t.bits()
	if b >= 64 {
		return ^uint64(0)
	}
	return 1<<b - 1
}

// sext reads v as the type, sign-extended when signed.
func (t ptype) sext(v uint64) uint64 {
	b := t.bits()
	if !t.signed() || b >= 64 {
		return v & t.mask()
	}
	s := 64 - b
	return uint64(int64(v<<s) >> s)
}
