package ir

import "fmt"

// DType is an element type. The zero value is invalid so that a forgotten
// type shows up in the verifier instead of silently becoming f32.
type DType uint8

const (
	Invalid DType = iota
	F32
	BF16
	F16
	F8E4M3 // float8_e4m3fn: no inf, max 448, NaN = S.1111.111
	F8E5M2
	I32
	I64
	Bool
)

var dtypeInfo = [...]struct {
	name  string
	bytes int64
	float bool
}{
	Invalid: {"invalid", 0, false},
	F32:     {"f32", 4, true},
	BF16:    {"bf16", 2, true},
	F16:     {"f16", 2, true},
	F8E4M3:  {"f8e4m3", 1, true},
	F8E5M2:  {"f8e5m2", 1, true},
	I32:     {"i32", 4, false},
	I64:     {"i64", 8, false},
	Bool:    {"bool", 1, false},
}

// DTypes lists every valid dtype in declaration order.
var DTypes = []DType{F32, BF16, F16, F8E4M3, F8E5M2, I32, I64, Bool}

func (d DType) String() string {
	if int(d) < len(dtypeInfo) {
		return dtypeInfo[d].name
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Bytes is the storage size of one element.
func (d DType) Bytes() int64 {
	if int(d) < len(dtypeInfo) {
		return dtypeInfo[d].bytes
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return int(d) < len(dtypeInfo) && dtypeInfo[d].float }

// IsInt reports whether d is an integer type.
func (d DType) IsInt() bool { return d == I32 || d == I64 }

// Valid reports whether d is one of DTypes.
func (d DType) Valid() bool { return d > Invalid && int(d) < len(dtypeInfo) }

// ParseDType maps a dtype's text name to the dtype.
func ParseDType(s string) (DType, bool) {
	for _, d := range DTypes {
		if dtypeInfo[d].name == s {
			return d, true
		}
	}
	return Invalid, false
}
