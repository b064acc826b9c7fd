// Package gguf reads and writes GGUF, the single-file model format of
// llama.cpp (and Ollama, LM Studio): a header of typed key/value metadata
// and tensor descriptions, then the tensors' data, each aligned.
//
// The layout (GGUF version 3, little-endian), as llama.cpp's gguf.cpp
// reads it:
//
//	"GGUF" u32:version i64:n_tensors i64:n_kv
//	n_kv × (string:key u32:type value)
//	n_tensors × (string:name u32:n_dims n_dims×i64:ne u32:ggml_type u64:offset)
//	padding to general.alignment (32 unless set), then the data section;
//	every offset is relative to it and a multiple of the alignment.
//
// A string is u64:length then the bytes; an array is u32:element type,
// u64:count, then the elements. ne[0] is the innermost (contiguous)
// dimension: a row-major [rows, cols] matrix is ne = {cols, rows}.
//
// Only what deepc writes is encoded (F32, F16, BF16, Q8_0 tensors); the
// reader accepts any value type and the tensor types whose sizes it knows,
// and checks every count against the file's size before allocating.
package gguf

import (
	"fmt"
	"math"
	"reflect"
)

// Magic begins every GGUF file.
const Magic = "GGUF"

// Version is the GGUF version written.
const Version = 3

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// ValueType is a metadata value's type tag.
type ValueType uint32

const (
	TypeUint8 ValueType = iota
	TypeInt8
	TypeUint16
	TypeInt16
	TypeUint32
	TypeInt32
	TypeFloat32
	TypeBool
	TypeString
	TypeArray
	TypeUint64
	TypeInt64
	TypeFloat64
)

// scalarSize is each fixed-size value type's encoded size.
var scalarSize = map[ValueType]int{
	TypeUint8: 1, TypeInt8: 1, TypeUint16: 2, TypeInt16: 2, TypeUint32: 4, TypeInt32: 4,
	TypeFloat32: 4, TypeBool: 1, TypeUint64: 8, TypeInt64: 8, TypeFloat64: 8,
}

// TensorType is a ggml tensor type: how its elements are stored.
type TensorType uint32

// The ggml types deepc names (ggml.h's enum ggml_type values).
const (
	F32  TensorType = 0
	F16  TensorType = 1
	Q8_0 TensorType = 8
	BF16 TensorType = 30
)

// blockInfo is a type's storage: blockBytes bytes hold blockElems elements.
type blockInfo struct {
	name                   string
	blockElems, blockBytes int64
}

// tensorTypes are the types the reader can size: what deepc writes, and the
// common quantized types of files made elsewhere (ggml.c's type traits).
var tensorTypes = map[TensorType]blockInfo{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	2:    {"Q4_0", 32, 18},
	3:    {"Q4_1", 32, 20},
	6:    {"Q5_0", 32, 22},
	7:    {"Q5_1", 32, 24},
	Q8_0: {"Q8_0", 32, 34},
	10:   {"Q2_K", 256, 84},
	11:   {"Q3_K", 256, 110},
	12:   {"Q4_K", 256, 144},
	13:   {"Q5_K", 256, 176},
	14:   {"Q6_K", 256, 210},
	24:   {"I8", 1, 1},
	25:   {"I16", 1, 2},
	26:   {"I32", 1, 4},
	27:   {"I64", 1, 8},
	28:   {"F64", 1, 8},
	BF16: {"BF16", 1, 2},
}

func (t TensorType) String() string {
	if b, ok := tensorTypes[t]; ok {
		return b.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// ParseTensorType reads a type name as deepc's flags write it (f32, f16,
// bf16, q8_0): the types deepc can write.
func ParseTensorType(s string) (TensorType, error) {
	switch s {
	case "f32", "F32":
		return F32, nil
	case "f16", "F16":
		return F16, nil
	case "bf16", "BF16":
		return BF16, nil
	case "q8_0", "Q8_0":
		return Q8_0, nil
	}
	return 0, fmt.Errorf("unknown tensor type %q (want f32, f16, bf16 or q8_0)", s)
}

// Bytes returns the size of a tensor of type t with dims ne, or an error
// when the type is unknown, a row (ne[0]) is not a whole number of blocks,
// or the size overflows.
func (t TensorType) Bytes(ne []int64) (int64, error) {
	b, ok := tensorTypes[t]
	if !ok {
		return 0, fmt.Errorf("unknown ggml type %d", uint32(t))
	}
	n := int64(1)
	for _, d := range ne {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in %v", ne)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("dimensions %v overflow", ne)
		}
		n *= d
	}
	if len(ne) > 0 && ne[0]%b.blockElems != 0 {
		return 0, fmt.Errorf("%s stores blocks of %d elements: a row of %d is not a whole number of them", b.name, b.blockElems, ne[0])
	}
	blocks := n / b.blockElems
	if blocks > math.MaxInt64/b.blockBytes {
		return 0, fmt.Errorf("dimensions %v overflow", ne)
	}
	return blocks * b.blockBytes, nil
}

// KV is one metadata entry. Value is one of uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64, or an
// Array of them.
type KV struct {
	Key   string
	Value any
}

// Array is an array value: its element type and the elements, a slice of
// the Go type for that type ([]string, []int32, []float32, ...; []Array for
// nested arrays).
type Array struct {
	Elem   ValueType
	Values any
}

// Len is the number of elements.
func (a Array) Len() int {
	if v := reflect.ValueOf(a.Values); v.Kind() == reflect.Slice {
		return v.Len()
	}
	return 0
}

// align rounds n up to a multiple of a.
func align(n, a int64) int64 { return (n + a - 1) / a * a }
