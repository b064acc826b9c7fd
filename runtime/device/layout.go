package device

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Device layouts: kernels read f32 as IEEE bits, bf16 and f16 as 16-bit
// patterns, fp8 as bytes, i32/i64 as little-endian integers and bool as a
// byte; a block-quantized tensor's scales are a separate f32 grid.

// Encode writes t's elements as dtype dt (its own dtype when dt is
// invalid) in the device layout.
func Encode(t *runtime.Tensor, dt ir.DType) ([]byte, error) {
	if dt == ir.Invalid {
		dt = t.DType
	}
	n := t.Numel()
	size := int(dt.Bytes())
	out := make([]byte, n*size)
	le := binary.LittleEndian
	for i := 0; i < n; i++ {
		o := out[i*size:]
		if dt.IsFloat() {
			if len(t.F) != n {
				return nil, fmt.Errorf("encode %s: %d values for %d elements", dt, len(t.F), n)
			}
			f := t.F[i]
			switch dt {
			case ir.F32:
				le.PutUint32(o, math.Float32bits(f))
			case ir.BF16:
				le.PutUint16(o, runtime.F32ToBF16Bits(f))
			case ir.F16:
				le.PutUint16(o, runtime.F32ToF16Bits(f))
			case ir.F8E4M3:
				o[0] = runtime.F32ToE4M3Bits(f)
			case ir.F8E5M2:
				o[0] = runtime.F32ToE5M2Bits(f)
			}
			continue
		}
		if len(t.I) != n {
			return nil, fmt.Errorf("encode %s: %d values for %d elements", dt, len(t.I), n)
		}
		switch v := t.I[i]; dt {
		case ir.I32:
			le.PutUint32(o, uint32(int32(v)))
		case ir.I64:
			le.PutUint64(o, uint64(v))
		case ir.Bool:
			o[0] = 0
			if v != 0 {
				o[0] = 1
			}
		}
	}
	return out, nil
}

// Decode reads a tensor of dtype dt and shape from the device layout.
func Decode(b []byte, dt ir.DType, shape []int) (*runtime.Tensor, error) {
	t := runtime.NewTensor(dt, shape...)
	n := t.Numel()
	size := int(dt.Bytes())
	if len(b) < n*size {
		return nil, fmt.Errorf("decode %s%v: %d bytes, need %d", dt, shape, len(b), n*size)
	}
	le := binary.LittleEndian
	for i := 0; i < n; i++ {
		o := b[i*size:]
		switch dt {
		case ir.F32:
			t.F[i] = math.Float32frombits(le.Uint32(o))
		case ir.BF16:
			t.F[i] = runtime.BF16BitsToF32(le.Uint16(o))
		case ir.F16:
			t.F[i] = runtime.F16BitsToF32(le.Uint16(o))
		case ir.F8E4M3:
			t.F[i] = runtime.E4M3BitsToF32(o[0])
		case ir.F8E5M2:
			t.F[i] = runtime.E5M2BitsToF32(o[0])
		case ir.I32:
			t.I[i] = int64(int32(le.Uint32(o)))
		case ir.I64:
			t.I[i] = int64(le.Uint64(o))
		case ir.Bool:
			t.I[i] = int64(o[0] & 1)
		}
	}
	return t, nil
}
