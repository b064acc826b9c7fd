package cpu

import (
	"fmt"
	"strings"

	"github.com/deepc-dev/deepc/ir"
)

// Mode is a precision mode (see the package documentation).
type Mode int

const (
	FP32 Mode = iota
	BF16
	FP8
)

var modeNames = [...]string{FP32: "fp32", BF16: "bf16", FP8: "fp8"}

func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// ParseMode reads "fp32", "bf16" or "fp8".
func ParseMode(s string) (Mode, error) {
	for m, name := range modeNames {
		if strings.EqualFold(s, name) {
			return Mode(m), nil
		}
	}
	return 0, fmt.Errorf("unknown precision %q (want fp32, bf16 or fp8)", s)
}

// Storage is the dtype a value of IR dtype dt is stored in under mode m:
// f32 for every float dtype in FP32 mode, dt itself otherwise.
func (m Mode) Storage(dt ir.DType) ir.DType {
	if m == FP32 && dt.IsFloat() {
		return ir.F32
	}
	return dt
}

// dequantDType is the dtype of a dequantised weight: f32 in FP32 mode, bf16
// otherwise (as DeepSeek's reference inference dequantises to bf16).
func (m Mode) dequantDType() ir.DType {
	if m == FP32 {
		return ir.F32
	}
	return ir.BF16
}

// subset reports whether every value of dtype a is exactly a value of b.
func subset(a, b ir.DType) bool {
	switch {
	case a == b:
		return true
	case !a.IsFloat() || !b.IsFloat():
		return false
	case b == ir.F32:
		return true
	case b == ir.BF16 || b == ir.F16:
		return a == ir.F8E4M3 || a == ir.F8E5M2
	}
	return false
}

// join is the narrowest dtype holding the values of both a and b (f32 when
// neither holds the other).
func join(a, b ir.DType) ir.DType {
	switch {
	case subset(a, b):
		return b
	case subset(b, a):
		return a
	}
	return ir.F32
}
