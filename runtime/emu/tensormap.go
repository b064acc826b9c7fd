package emu

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Tensor maps (docs/ptx-isa-notes.md §11.7): the 128-byte objects
// cp.async.bulk.tensor reads. The driver's encoding is opaque, so the
// emulator has its own, made by EncodeTiled with the checks
// cuTensorMapEncodeTiled documents, and refuses any other bytes.

// TensorMap describes a tiled tensor map, as cuTensorMapEncodeTiled takes
// it. Enum values are the driver's.
type TensorMap struct {
	DataType       int       // CUtensorMapDataType: 0 UINT8 … 12 TFLOAT32_FTZ
	Rank           int       // 1..5
	Global         uint64    // the tensor's device address
	Dims           [5]uint64 // elements per dimension, innermost first
	Strides        [4]uint64 // bytes between consecutive indices of dimensions 1..rank-1
	Box            [5]uint32 // the box's extent in elements
	ElementStrides [5]uint32 // traversal strides (ignored for dimension 0)
	Interleave     int       // 0 NONE, 1 16B, 2 32B
	Swizzle        int       // 0 NONE, 1 32B, 2 64B, 3 128B
	L2Promotion    int       // 0..3 (a hint)
	OOBFill        int       // 0 zeros, 1 NaN request
}

// Tensor map enum values.
const (
	TensorUINT8 = iota
	TensorUINT16
	TensorUINT32
	TensorINT32
	TensorUINT64
	TensorINT64
	TensorFLOAT16
	TensorFLOAT32
	TensorFLOAT64
	TensorBFLOAT16
	TensorFLOAT32FTZ
	TensorTFLOAT32
	TensorTFLOAT32FTZ
)

const (
	SwizzleNone = iota
	Swizzle32B
	Swizzle64B
	Swizzle128B
)

var tensorElemBytes = [...]int{1, 2, 4, 4, 8, 8, 2, 4, 8, 2, 4, 4, 4}

const tensorMapMagic = 0x50414d54 // "TMAP"

// ErrInvalidValue is CUDA_ERROR_INVALID_VALUE, what the driver returns for
// a tensor map it refuses.
type ErrInvalidValue struct{ Why string }

func (e ErrInvalidValue) Error() string { return "CUDA_ERROR_INVALID_VALUE: " + e.Why }

func invalid(format string, args ...any) error {
	return ErrInvalidValue{fmt.Sprintf(format, args...)}
}

// EncodeTiled checks a tensor map as cuTensorMapEncodeTiled does and
// returns its 128 bytes, to pass as a kernel parameter (.param .align 64
// .b8 p[128]) or to store in device memory.
func EncodeTiled(t TensorMap) ([128]byte, error) {
	var out [128]byte
	if err := t.check(); err != nil {
		return out, err
	}
	le := binary.LittleEndian
	le.PutUint32(out[0:], tensorMapMagic)
	out[4], out[5], out[6], out[7] = 1, byte(t.Rank), byte(t.DataType), byte(t.Interleave)
	le.PutUint64(out[8:], t.Global)
	for i := 0; i < 5; i++ {
		le.PutUint64(out[16+8*i:], t.Dims[i])
		le.PutUint16(out[88+2*i:], uint16(t.Box[i]))
		out[98+i] = byte(t.ElementStrides[i])
	}
	for i := 0; i < 4; i++ {
		le.PutUint64(out[56+8*i:], t.Strides[i])
	}
	out[103], out[104], out[105] = byte(t.Swizzle), byte(t.L2Promotion), byte(t.OOBFill)
	le.PutUint32(out[124:], crc32.ChecksumIEEE(out[:124]))
	return out, nil
}

func (t *TensorMap) check() error {
	if t.DataType < 0 || t.DataType >= len(tensorElemBytes) {
		return invalid("data type %d is not one of 0..%d", t.DataType, len(tensorElemBytes)-1)
	}
	es := uint64(tensorElemBytes[t.DataType])
	switch {
	case t.Rank < 1 || t.Rank > 5:
		return invalid("rank %d is not 1..5", t.Rank)
	case t.Interleave < 0 || t.Interleave > 2:
		return invalid("interleave %d", t.Interleave)
	case t.Interleave != 0 && t.Rank < 3:
		return invalid("an interleaved map needs rank 3 or more")
	case t.Swizzle < 0 || t.Swizzle > 3:
		return invalid("swizzle %d (0..3 on sm_90)", t.Swizzle)
	case t.L2Promotion < 0 || t.L2Promotion > 3:
		return invalid("L2 promotion %d", t.L2Promotion)
	case t.OOBFill < 0 || t.OOBFill > 1:
		return invalid("OOB fill %d", t.OOBFill)
	case t.OOBFill == 1 && !(t.DataType >= TensorFLOAT16 && t.DataType != TensorINT64):
		return invalid("NaN fill needs a floating-point data type")
	case t.Global%16 != 0 || t.Interleave == 2 && t.Global%32 != 0:
		return invalid("global address %#x is not %d-byte aligned", t.Global, map[bool]int{false: 16, true: 32}[t.Interleave == 2])
	case t.Interleave == 2 && t.Swizzle != Swizzle32B:
		return invalid("32B interleave requires the 32B swizzle")
	}
	for i := 0; i < t.Rank; i++ {
		if t.Dims[i] == 0 || t.Dims[i] > 1<<32 {
			return invalid("globalDim[%d] = %d is not in 1..2^32", i, t.Dims[i])
		}
		if t.Box[i] == 0 || t.Box[i] > 256 {
			return invalid("boxDim[%d] = %d is not in 1..256", i, t.Box[i])
		}
		if t.ElementStrides[i] == 0 || t.ElementStrides[i] > 8 {
			return invalid("elementStrides[%d] = %d is not in 1..8", i, t.ElementStrides[i])
		}
		if i < t.Rank-1 {
			s := t.Strides[i]
			if s%16 != 0 || s >= 1<<40 || t.Interleave == 2 && s%32 != 0 {
				return invalid("globalStrides[%d] = %d must be a multiple of 16 (32 with 32B interleave) below 2^40", i, s)
			}
		}
	}
	if t.Interleave == 0 {
		inner := uint64(t.Box[0]) * es
		if inner%16 != 0 {
			return invalid("boxDim[0]·element size = %d bytes is not a multiple of 16", inner)
		}
		if span := swizzleSpan(t.Swizzle); span > 0 && inner > uint64(span) {
			return invalid("boxDim[0]·element size = %d bytes exceeds the %d-byte swizzle span", inner, span)
		}
	}
	return nil
}

func swizzleSpan(mode int) int { return [4]int{0, 32, 64, 128}[mode] }

// decodeTensorMap reads 128 bytes EncodeTiled wrote.
func decodeTensorMap(b []byte) (*TensorMap, error) {
	le := binary.LittleEndian
	if len(b) < 128 || le.Uint32(b) != tensorMapMagic || b[4] != 1 || le.Uint32(b[124:]) != crc32.ChecksumIEEE(b[:124]) {
		return nil, fmt.Errorf("not a tensor map made by the emulator's EncodeTiled (wrong magic, version or checksum)")
	}
	t := &TensorMap{Rank: int(b[5]), DataType: int(b[6]), Interleave: int(b[7]), Global: le.Uint64(b[8:]),
		Swizzle: int(b[103]), L2Promotion: int(b[104]), OOBFill: int(b[105])}
	for i := 0; i < 5; i++ {
		t.Dims[i] = le.Uint64(b[16+8*i:])
		t.Box[i] = uint32(le.Uint16(b[88+2*i:]))
		t.ElementStrides[i] = uint32(b[98+i])
	}
	for i := 0; i < 4; i++ {
		t.Strides[i] = le.Uint64(b[56+8*i:])
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}
