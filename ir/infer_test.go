package ir

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// ty builds a type from dims given as ints (constant) or strings (symbols).
func ty(dt DType, dims ...any) Type {
	s := Shape{}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			s = append(s, C(int64(d)))
		case string:
			s = append(s, S(d))
		case Dim:
			s = append(s, d)
		default:
			panic(fmt.Sprintf("bad dim %v", d))
		}
	}
	return Type{Shape: s, DType: dt}
}

func tys(ts ...Type) []Type { return ts }

type inferCase struct {
	op    string
	args  []Type
	attrs Attrs
	want  []Type // nil for an invalid case
	err   string // substring of the error for an invalid case
}

var inferCases = []inferCase{
	// Unary float ops.
	{op: "exp", args: tys(ty(F32, "T", 8)), want: tys(ty(F32, "T", 8))},
	{op: "exp", args: tys(ty(I32, "T", 8)), err: "operand must be a float tensor, got i32"},
	{op: "log", args: tys(ty(BF16, 2)), want: tys(ty(BF16, 2))},
	{op: "log", args: tys(ty(Bool, 2)), err: "must be a float tensor"},
	{op: "sqrt", args: tys(ty(F16)), want: tys(ty(F16))},
	{op: "sqrt", args: tys(ty(I64)), err: "must be a float tensor"},
	{op: "rsqrt", args: tys(ty(F8E4M3, 4)), want: tys(ty(F8E4M3, 4))},
	{op: "rsqrt", args: tys(ty(I32, 4)), err: "must be a float tensor"},
	{op: "sigmoid", args: tys(ty(F8E5M2, 4)), want: tys(ty(F8E5M2, 4))},
	{op: "sigmoid", args: tys(ty(F32), ty(F32)), err: "sigmoid takes 1 operands, got 2"},
	{op: "silu", args: tys(ty(F32, "T", 4)), want: tys(ty(F32, "T", 4))},
	{op: "silu", args: tys(ty(Bool, 4)), err: "must be a float tensor"},
	{op: "tanh", args: tys(ty(F32, 1)), want: tys(ty(F32, 1))},
	{op: "tanh", args: nil, err: "tanh takes 1 operands, got 0"},
	{op: "erf", args: tys(ty(BF16, 2, 3)), want: tys(ty(BF16, 2, 3))},
	{op: "erf", args: tys(ty(I32, 4)), err: "erf"},

	// Unary numeric ops.
	{op: "neg", args: tys(ty(I32, "T")), want: tys(ty(I32, "T"))},
	{op: "neg", args: tys(ty(Bool, "T")), err: "operand must be numeric, got bool"},
	{op: "abs", args: tys(ty(F32, 3)), want: tys(ty(F32, 3))},
	{op: "abs", args: tys(ty(Bool)), err: "must be numeric"},
	{op: "sign", args: tys(ty(I64, 3)), want: tys(ty(I64, 3))},
	{op: "sign", args: tys(ty(Bool, 3)), err: "must be numeric"},

	// Broadcasting binary ops.
	{op: "add", args: tys(ty(F32, "T", 8), ty(F32, 8)), want: tys(ty(F32, "T", 8))},
	{op: "add", args: tys(ty(F32, "T", 8), ty(BF16, "T", 8)), err: "dtype mismatch: f32 vs bf16"},
	{op: "add", args: tys(ty(F32, "T", 8), ty(F32, "T", 4)), err: "shapes [T, 8] and [T, 4] do not broadcast (dim 1: 8 vs 4)"},
	{op: "add", args: tys(ty(F32, "T", 8), ty(F32, "S", 8)), err: "do not broadcast (dim 0: T vs S)"},
	{op: "sub", args: tys(ty(F32, 4, 1, 3), ty(F32, 5, 1)), want: tys(ty(F32, 4, 5, 3))},
	{op: "sub", args: tys(ty(F32, 2), ty(F32, 3)), err: "do not broadcast"},
	{op: "mul", args: tys(ty(F32), ty(F32, "T", 2)), want: tys(ty(F32, "T", 2))},
	{op: "mul", args: tys(ty(I32), ty(I64)), err: "dtype mismatch: i32 vs i64"},
	{op: "div", args: tys(ty(F32, 1, "T"), ty(F32, 4, 1)), want: tys(ty(F32, 4, "T"))},
	{op: "div", args: tys(ty(F32, 2)), err: "div takes 2 operands, got 1"},
	{op: "maximum", args: tys(ty(I32, "T"), ty(I32, "T")), want: tys(ty(I32, "T"))},
	{op: "maximum", args: tys(ty(I32, "T"), ty(F32, "T")), err: "dtype mismatch"},
	{op: "minimum", args: tys(ty(F16, 2, 2), ty(F16, 1)), want: tys(ty(F16, 2, 2))},
	{op: "minimum", args: tys(ty(F16, 2, 2), ty(F16, 2, 3)), err: "do not broadcast"},
	{op: "pow", args: tys(ty(F32, 8), ty(F32)), want: tys(ty(F32, 8))},
	{op: "pow", args: tys(ty(F32, 8), ty(F16)), err: "dtype mismatch"},

	// Comparisons give bool.
	{op: "eq", args: tys(ty(I32, "T"), ty(I32)), want: tys(ty(Bool, "T"))},
	{op: "eq", args: tys(ty(I32, "T"), ty(I64)), err: "dtype mismatch"},
	{op: "ne", args: tys(ty(Bool, 2), ty(Bool, 2)), want: tys(ty(Bool, 2))},
	{op: "ne", args: tys(ty(Bool, 2), ty(Bool, 3)), err: "do not broadcast"},
	{op: "lt", args: tys(ty(F32, "T", 8), ty(F32, "T", 1)), want: tys(ty(Bool, "T", 8))},
	{op: "lt", args: tys(ty(F32, "T", 8), ty(BF16, "T", 1)), err: "dtype mismatch"},
	{op: "le", args: tys(ty(F32, 3), ty(F32, 3)), want: tys(ty(Bool, 3))},
	{op: "le", args: tys(ty(F32, 3), ty(F32, 4)), err: "do not broadcast"},
	{op: "gt", args: tys(ty(I64), ty(I64)), want: tys(ty(Bool))},
	{op: "gt", args: tys(ty(I64)), err: "gt takes 2 operands"},
	{op: "ge", args: tys(ty(F8E4M3, 2), ty(F8E4M3, 2)), want: tys(ty(Bool, 2))},
	{op: "ge", args: tys(ty(F8E4M3, 2), ty(F8E5M2, 2)), err: "dtype mismatch"},

	{op: "where", args: tys(ty(Bool, "T", 1), ty(F32, 8), ty(F32, "T", 8)), want: tys(ty(F32, "T", 8))},
	{op: "where", args: tys(ty(I32, "T"), ty(F32, "T"), ty(F32, "T")), err: "condition must be bool, got i32"},
	{op: "where", args: tys(ty(Bool, "T"), ty(F32, "T"), ty(F16, "T")), err: "dtype mismatch: f32 vs f16"},
	{op: "where", args: tys(ty(Bool, 3), ty(F32, 3), ty(F32, 4)), err: "do not broadcast"},

	{op: "cast", args: tys(ty(F32, "T", 8)), attrs: Attrs{"dtype": F8E4M3}, want: tys(ty(F8E4M3, "T", 8))},
	{op: "cast", args: tys(ty(F32, "T", 8)), err: "cast requires attribute dtype"},
	{op: "cast", args: tys(ty(F32, "T", 8)), attrs: Attrs{"dtype": "f16"}, err: "attribute dtype must be a dtype"},
	{op: "cast", args: tys(ty(F32, "T", 8)), attrs: Attrs{"dtype": Invalid}, err: "attribute dtype must be a dtype"},

	{op: "const", attrs: Attrs{"value": 1e-06, "dtype": F32}, want: tys(ty(F32))},
	{op: "const", attrs: Attrs{"value": int64(-3), "dtype": I32}, want: tys(ty(I32))},
	{op: "const", attrs: Attrs{"value": true, "dtype": Bool}, want: tys(ty(Bool))},
	{op: "const", attrs: Attrs{"value": "one", "dtype": F32}, err: "attribute value must be a number or bool"},
	{op: "const", attrs: Attrs{"value": 1.0}, err: "const requires attribute dtype"},
	{op: "const", args: tys(ty(F32)), attrs: Attrs{"value": 1.0, "dtype": F32}, err: "const takes 0 operands, got 1"},

	// Reductions.
	{op: "sum", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(-1)}, want: tys(ty(F32, "T"))},
	{op: "sum", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(2)}, err: "axis 2 out of range for rank 2"},
	{op: "sum", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(-3)}, err: "axis -1 out of range for rank 2"},
	{op: "sum", args: tys(ty(Bool, 8)), attrs: Attrs{"axis": int64(0)}, err: "cannot reduce a bool tensor"},
	{op: "mean", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(0), "keepdim": true}, want: tys(ty(F32, 1, 8))},
	{op: "mean", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": 1.0}, err: "attribute axis must be an integer"},
	{op: "reduce_max", args: tys(ty(I32, 2, 3, 4)), attrs: Attrs{"axis": int64(1)}, want: tys(ty(I32, 2, 4))},
	{op: "reduce_max", args: tys(ty(I32)), attrs: Attrs{"axis": int64(0)}, err: "out of range for rank 0"},
	{op: "softmax", args: tys(ty(BF16, "T", 4, 8)), attrs: Attrs{"axis": int64(-1)}, want: tys(ty(BF16, "T", 4, 8))},
	{op: "softmax", args: tys(ty(I32, "T", 8)), attrs: Attrs{"axis": int64(-1)}, err: "must be a float tensor"},
	{op: "softmax", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(5)}, err: "out of range"},

	{op: "rms_norm", args: tys(ty(BF16, "T", 8), ty(F32, 8)), attrs: Attrs{"eps": 1e-06}, want: tys(ty(BF16, "T", 8))},
	{op: "rms_norm", args: tys(ty(F32, "T", 8), ty(F32, 8)), attrs: Attrs{"eps": int64(0)}, want: tys(ty(F32, "T", 8))},
	{op: "rms_norm", args: tys(ty(F32, "T", 8), ty(F32, 4)), attrs: Attrs{"eps": 1e-06}, err: "weight shape [4] does not match the last dim 8 of [T, 8]"},
	{op: "rms_norm", args: tys(ty(F32, "T", 8), ty(F32, 8)), attrs: Attrs{"eps": "small"}, err: "attribute eps must be a number"},
	{op: "rms_norm", args: tys(ty(F32), ty(F32, 8)), attrs: Attrs{"eps": 1e-06}, err: "rank >= 1, got a scalar"},
	{op: "rms_norm", args: tys(ty(I32, "T", 8), ty(F32, 8)), attrs: Attrs{"eps": 1e-06}, err: "rms_norm needs float operands"},

	// GEMMs.
	{op: "linear", args: tys(ty(BF16, "T", 8), ty(F8E4M3, 16, 8)), want: tys(ty(BF16, "T", 16))},
	{op: "linear", args: tys(ty(F32, 2, "T", 8), ty(F32, 16, 8)), want: tys(ty(F32, 2, "T", 16))},
	{op: "linear", args: tys(ty(F32, "T", 8), ty(F32, 16, 4)), err: "input dim 8 does not match weight [16, 4] (weights are [out, in])"},
	{op: "linear", args: tys(ty(F32, "T", 8), ty(F32, 8)), err: "weight must be [out, in], got [8]"},
	{op: "linear", args: tys(ty(I32, "T", 8), ty(F32, 16, 8)), err: "linear needs float operands"},
	{op: "linear", args: tys(ty(F32), ty(F32, 16, 8)), err: "got a scalar"},
	{op: "matmul", args: tys(ty(F32, "T", 4, 3, 5), ty(F32, "T", 4, 5, 7)), want: tys(ty(F32, "T", 4, 3, 7))},
	{op: "matmul", args: tys(ty(F32, 3, 5), ty(F32, 4, 7)), err: "contraction dims differ: [3, 5] vs [4, 7]"},
	{op: "matmul", args: tys(ty(F32, 2, 3, 5), ty(F32, 4, 5, 7)), err: "batch dims differ"},
	{op: "matmul", args: tys(ty(F32, 5), ty(F32, 5, 7)), err: "matmul needs operands of equal rank >= 2"},
	{op: "matmul", args: tys(ty(BF16, 3, 5), ty(F8E4M3, 5, 7)), want: tys(ty(BF16, 3, 7))},
	{op: "matmul", args: tys(ty(F32, 3, 5), ty(I32, 5, 7)), err: "dtype mismatch"},
	{op: "grouped_linear", args: tys(ty(BF16, "T", 8), ty(BF16, 4, 6, 8), ty(I32, "T", 2)), want: tys(ty(BF16, "T", 2, 6))},
	{op: "grouped_linear", args: tys(ty(F32, "T", 2, 8), ty(F32, 4, 6, 8), ty(I64, "T", 2)), want: tys(ty(F32, "T", 2, 6))},
	{op: "grouped_linear", args: tys(ty(F32, "T", 8), ty(F32, 4, 6, 4), ty(I32, "T", 2)), err: "input dim 8 does not match weights [4, 6, 4]"},
	{op: "grouped_linear", args: tys(ty(F32, "S", 8), ty(F32, 4, 6, 8), ty(I32, "T", 2)), err: "input must be [T, in] or [T, 2, in], got [S, 8]"},
	{op: "grouped_linear", args: tys(ty(F32, "T", 3, 8), ty(F32, 4, 6, 8), ty(I32, "T", 2)), err: "input must be"},
	{op: "grouped_linear", args: tys(ty(F32, "T", 8), ty(F32, 6, 8), ty(I32, "T", 2)), err: "weights must be [E, out, in]"},
	{op: "grouped_linear", args: tys(ty(F32, "T", 8), ty(F32, 4, 6, 8), ty(F32, "T", 2)), err: "indices must be an integer [T, k] tensor"},
	{op: "grouped_linear", args: tys(ty(I32, "T", 8), ty(F32, 4, 6, 8), ty(I32, "T", 2)), err: "needs float x and w"},

	// Data movement.
	{op: "reshape", args: tys(ty(F32, "T", 8)), attrs: Attrs{"shape": Shape{C(2), S("T"), C(4)}}, want: tys(ty(F32, 2, "T", 4))},
	{op: "reshape", args: tys(ty(F32, 2, 3)), attrs: Attrs{"shape": []int64{6}}, want: tys(ty(F32, 6))},
	{op: "reshape", args: tys(ty(F32, 4)), attrs: Attrs{"shape": []int64{}}, err: "cannot reshape [4] (4 elements) to [] (1 elements)"},
	{op: "reshape", args: tys(ty(F32, "T", 8)), attrs: Attrs{"shape": []int64{4, 4}}, err: "cannot reshape [T, 8] (8*T elements) to [4, 4] (16 elements)"},
	{op: "reshape", args: tys(ty(F32, "T", 8)), attrs: Attrs{"shape": Shape{S("S"), C(8)}}, err: "(8*T elements) to [S, 8] (8*S elements)"},
	{op: "reshape", args: tys(ty(F32, 4)), attrs: Attrs{"shape": "4"}, err: "attribute shape must be a shape"},
	{op: "expand", args: tys(ty(F32, 1, 8)), attrs: Attrs{"shape": Shape{S("T"), C(8)}}, want: tys(ty(F32, "T", 8))},
	{op: "expand", args: tys(ty(F32, 8)), attrs: Attrs{"shape": []int64{3, 8}}, want: tys(ty(F32, 3, 8))},
	{op: "expand", args: tys(ty(F32, 2, 8)), attrs: Attrs{"shape": []int64{3, 8}}, err: "cannot expand [2, 8] to [3, 8]"},
	{op: "expand", args: tys(ty(F32, 3, 8)), attrs: Attrs{"shape": []int64{8}}, err: "cannot expand [3, 8] to [8]"},
	{op: "transpose", args: tys(ty(F32, "T", 4, 8)), attrs: Attrs{"perm": []int64{1, 2, 0}}, want: tys(ty(F32, 4, 8, "T"))},
	{op: "transpose", args: tys(ty(F32, "T", 4, 8)), attrs: Attrs{"perm": []int64{1, 1, 0}}, err: "perm [1 1 0] is not a permutation of 3 axes"},
	{op: "transpose", args: tys(ty(F32, "T", 4, 8)), attrs: Attrs{"perm": []int64{0, 1, 3}}, err: "is not a permutation"},
	{op: "transpose", args: tys(ty(F32, "T", 4, 8)), attrs: Attrs{"perm": []int64{-1, 0, 1}}, err: "is not a permutation"},
	{op: "transpose", args: tys(ty(F32, "T", 4)), attrs: Attrs{"perm": []int64{0}}, err: "attribute perm must list 2 axes"},
	{op: "concat", args: tys(ty(F32, "T", 8), ty(F32, "T", 4), ty(F32, "T", 1)), attrs: Attrs{"axis": int64(-1)}, want: tys(ty(F32, "T", 13))},
	{op: "concat", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(0)}, want: tys(ty(F32, "T", 8))},
	{op: "concat", args: tys(ty(F32, "T", 8), ty(F32, "T", 8)), attrs: Attrs{"axis": int64(0)}, err: "cannot concat along symbolic dim T"},
	{op: "concat", args: tys(ty(F32, 2, 8), ty(F32, "T", 8)), attrs: Attrs{"axis": int64(0)}, err: "cannot concat along symbolic dim T"},
	{op: "concat", args: tys(ty(F32, "T", 8), ty(F32, "S", 4)), attrs: Attrs{"axis": int64(1)}, err: "operand 1 shape [S, 4] does not match [T, 8] off the concat axis"},
	{op: "concat", args: tys(ty(F32, "T", 8), ty(BF16, "T", 4)), attrs: Attrs{"axis": int64(1)}, err: "dtype mismatch: operand 1 is bf16, operand 0 is f32"},
	{op: "concat", args: tys(ty(F32, "T", 8), ty(F32, 8)), attrs: Attrs{"axis": int64(1)}, err: "rank mismatch"},
	{op: "concat", attrs: Attrs{"axis": int64(0)}, err: "concat takes at least one operand"},
	{op: "split", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(1), "sizes": []int64{2, 6}}, want: tys(ty(F32, "T", 2), ty(F32, "T", 6))},
	{op: "split", args: tys(ty(F32, 8)), attrs: Attrs{"axis": int64(0), "sizes": []int64{8}}, want: tys(ty(F32, 8))},
	{op: "split", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(1), "sizes": []int64{2, 5}}, err: "split sizes [2 5] sum to 7 but the dim is 8"},
	{op: "split", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(0), "sizes": []int64{2, 5}}, err: "sum to 7 but the dim is T"},
	{op: "split", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(1), "sizes": []int64{10, -2}}, err: "split sizes must be positive"},
	{op: "split", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(1), "sizes": []int64{}}, err: "sizes must be a non-empty integer list"},
	{op: "split", args: tys(ty(F32, 2)), attrs: Attrs{"axis": int64(0), "sizes": []int64{1<<63 - 1, 1<<63 - 1, 4}}, err: "overflow"},
	{op: "slice", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(-1), "start": int64(2), "end": int64(8)}, want: tys(ty(F32, "T", 6))},
	{op: "slice", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(1), "start": int64(2), "end": int64(9)}, err: "slice 2..9 is not within dim 8"},
	{op: "slice", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(1), "start": int64(4), "end": int64(4)}, err: "slice 4..4 is not within dim 8"},
	{op: "slice", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(1), "start": int64(-1), "end": int64(4)}, err: "slice -1..4 is not within dim 8"},
	{op: "slice", args: tys(ty(F32, "T", 8)), attrs: Attrs{"axis": int64(0), "start": int64(0), "end": int64(1)}, err: "slice 0..1 is not within dim T"},
	{op: "gather", args: tys(ty(BF16, 100, 8), ty(I32, "T")), attrs: Attrs{"axis": int64(0)}, want: tys(ty(BF16, "T", 8))},
	{op: "gather", args: tys(ty(F32, 4, 100, 8), ty(I64, "T", 2)), attrs: Attrs{"axis": int64(1)}, want: tys(ty(F32, 4, "T", 2, 8))},
	{op: "gather", args: tys(ty(F32, 100, 8), ty(F32, "T")), attrs: Attrs{"axis": int64(0)}, err: "indices must be integers, got f32"},
	{op: "gather", args: tys(ty(F32, 100, 8), ty(I32, "T")), attrs: Attrs{"axis": int64(2)}, err: "out of range"},
	{op: "take_along", args: tys(ty(F32, "T", 16), ty(I32, "T", 4)), attrs: Attrs{"axis": int64(1)}, want: tys(ty(F32, "T", 4))},
	{op: "take_along", args: tys(ty(F32, "T", 16), ty(I32, "S", 4)), attrs: Attrs{"axis": int64(1)}, err: "indices [S, 4] do not match [T, 16] off axis 1"},
	{op: "take_along", args: tys(ty(F32, "T", 16), ty(I32, "T")), attrs: Attrs{"axis": int64(1)}, err: "indices must be integers of rank 2"},
	{op: "take_along", args: tys(ty(F32, "T", 16), ty(F32, "T", 4)), attrs: Attrs{"axis": int64(1)}, err: "indices must be integers of rank 2"},
	{op: "shift", args: tys(ty(F32, "T", 8), ty(I32, "T")), attrs: Attrs{"offset": int64(1)}, want: tys(ty(F32, "T", 8))},
	{op: "shift", args: tys(ty(F32, "T", 8), ty(I32, "S")), attrs: Attrs{"offset": int64(1)}, err: "sequence ids must be an integer [T] tensor, got [S] i32"},
	{op: "shift", args: tys(ty(F32, "T", 8), ty(I32, "T")), attrs: Attrs{"offset": 1.0}, err: "attribute offset must be an integer"},
	{op: "shift", args: tys(ty(F32), ty(I32, "T")), attrs: Attrs{"offset": int64(1)}, err: "expected a per-token tensor, got a scalar"},

	// Routing.
	{op: "topk", args: tys(ty(F32, "T", 16)), attrs: Attrs{"k": int64(16)}, want: tys(ty(F32, "T", 16), ty(I32, "T", 16))},
	{op: "topk", args: tys(ty(F32, "T", 16)), attrs: Attrs{"k": int64(17)}, err: "k = 17 must be in 1..16"},
	{op: "topk", args: tys(ty(F32, "T", 16)), attrs: Attrs{"k": int64(0)}, err: "k = 0 must be in 1..16"},
	{op: "topk", args: tys(ty(F32, 16, "T")), attrs: Attrs{"k": int64(2)}, err: "k = 2 must be in 1..T"},
	{op: "topk", args: tys(ty(F32)), attrs: Attrs{"k": int64(1)}, err: "got a scalar"},
	{op: "route", args: tys(ty(F32, "T", 256)), attrs: Attrs{"k": int64(8), "groups": int64(8), "topk_groups": int64(4), "group_top": int64(2)}, want: tys(ty(I32, "T", 8))},
	{op: "route", args: tys(ty(F32, "T", 16)), attrs: Attrs{"k": int64(2), "groups": int64(1), "topk_groups": int64(1)}, want: tys(ty(I32, "T", 2))},
	{op: "route", args: tys(ty(F32, "T", 16)), attrs: Attrs{"k": int64(2), "groups": int64(1), "topk_groups": int64(1), "balance": "batch", "balance_weight": 0.02}, want: tys(ty(I32, "T", 2))},
	{op: "route", args: tys(ty(F32, "T", 16)), attrs: Attrs{"k": int64(2), "groups": int64(1), "topk_groups": int64(1), "balance": "token"}, err: `balance = token must be "sequence" or "batch"`},
	{op: "route", args: tys(ty(F32, "T", 16)), attrs: Attrs{"k": int64(2), "groups": int64(1), "topk_groups": int64(1), "balance_weight": -1.0}, err: "balance_weight must be a non-negative, finite number"},
	{op: "route", args: tys(ty(F32, "T", 16)), attrs: Attrs{"k": int64(2), "groups": int64(1), "topk_groups": int64(1), "balance_weight": math.NaN()}, err: "balance_weight must be a non-negative, finite number"},
	{op: "route", args: tys(ty(F32, "T", 16)), attrs: Attrs{"k": int64(2), "groups": int64(1), "topk_groups": int64(1), "balance_weight": math.Inf(1)}, err: "balance_weight must be a non-negative, finite number"},
	{op: "route", args: tys(ty(F32, "T", 256)), attrs: Attrs{"k": int64(8), "groups": int64(7), "topk_groups": int64(4)}, err: "groups = 7 must divide the 256 experts"},
	{op: "route", args: tys(ty(F32, "T", 256)), attrs: Attrs{"k": int64(8), "groups": int64(0), "topk_groups": int64(4)}, err: "groups = 0 must divide"},
	{op: "route", args: tys(ty(F32, "T", 256)), attrs: Attrs{"k": int64(8), "groups": int64(8), "topk_groups": int64(9)}, err: "topk_groups = 9 must be in 1..groups (8)"},
	{op: "route", args: tys(ty(F32, "T", 256)), attrs: Attrs{"k": int64(65), "groups": int64(8), "topk_groups": int64(2)}, err: "k = 65 must be in 1..64"},
	{op: "route", args: tys(ty(F32, "T", 256)), attrs: Attrs{"k": int64(8), "groups": int64(8), "topk_groups": int64(4), "group_top": int64(33)}, err: "group_top = 33 must be in 1..32"},
	{op: "route", args: tys(ty(F32, "T", "E")), attrs: Attrs{"k": int64(8), "groups": int64(8), "topk_groups": int64(4)}, err: "scores must be a float [T, E] tensor"},
	{op: "route", args: tys(ty(I32, "T", 256)), attrs: Attrs{"k": int64(8), "groups": int64(8), "topk_groups": int64(4)}, err: "scores must be a float [T, E] tensor"},
	{op: "route", args: tys(ty(F32, "T", 256)), attrs: Attrs{"k": int64(8), "groups": int64(8)}, err: "route requires attribute topk_groups"},

	// Attention blocks.
	{op: "rope", args: tys(ty(BF16, "T", 4, 64), ty(I32, "T")), attrs: Attrs{"theta": 10000.0}, want: tys(ty(BF16, "T", 4, 64))},
	{op: "rope", args: tys(ty(F32, "T", 64), ty(I64, "T")), attrs: Attrs{"theta": int64(10000), "scaling": Attrs{"factor": 40.0}}, want: tys(ty(F32, "T", 64))},
	{op: "rope", args: tys(ty(F32, "T", 63), ty(I32, "T")), attrs: Attrs{"theta": 10000.0}, err: "rotary dim 63 must be even"},
	{op: "rope", args: tys(ty(F32, "T", 2, 64), ty(I32, "T")), attrs: Attrs{"theta": 10000.0, "rotary_dim": int64(16)}, want: tys(ty(F32, "T", 2, 64))},
	{op: "rope", args: tys(ty(F32, "T", 2, 64), ty(I32, "T")), attrs: Attrs{"theta": 10000.0, "rotary_dim": int64(15)}, err: "rotary_dim must be an even integer in 2..64"},
	{op: "rope", args: tys(ty(F32, "T", 2, 64), ty(I32, "T")), attrs: Attrs{"theta": 10000.0, "rotary_dim": int64(66)}, err: "rotary_dim must be an even integer in 2..64"},
	{op: "rope", args: tys(ty(F32, "T", 2, 64), ty(I32, "T")), attrs: Attrs{"theta": 10000.0, "scaling": Attrs{"type": "dynamic", "factor": 2.0}}, err: "rope scaling dynamic: needs a positive original_max_position_embeddings"},
	{op: "rope", args: tys(ty(F32, "T", 2, 64), ty(I32, "T")), attrs: Attrs{"theta": 10000.0, "scaling": Attrs{"type": "longrope", "factor": 2.0}}, err: "rope scaling type \"longrope\" is not supported"},
	{op: "rope", args: tys(ty(F32, "T", 64), ty(I32, "T")), attrs: Attrs{"theta": 10000.0, "scaling": 40.0}, err: "attribute scaling must be a dict"},
	{op: "rope", args: tys(ty(F32, "T", 64), ty(I32, "T")), attrs: Attrs{"theta": "big"}, err: "attribute theta must be a number"},
	{op: "rope", args: tys(ty(F32, "T", 64), ty(I32, "T")), attrs: Attrs{"theta": 10000.0, "layout": "half"}, want: tys(ty(F32, "T", 64))},
	{op: "rope", args: tys(ty(F32, "T", 64), ty(I32, "T")), attrs: Attrs{"theta": 10000.0, "layout": "neox"}, err: "attribute layout must be"},
	{op: "rope", args: tys(ty(F32, 64), ty(I32, 64)), attrs: Attrs{"theta": 10000.0}, err: "rope needs a float [T, ..., d] tensor"},
	{op: "rope", args: tys(ty(F32, "T", 64), ty(F32, "T")), attrs: Attrs{"theta": 10000.0}, err: "positions must be an integer [T] tensor"},
	{op: "attention", args: tys(ty(BF16, "T", 16, 192), ty(BF16, "T", 16, 192), ty(BF16, "T", 16, 128), ty(I32, "T"), ty(I32, "T")), attrs: Attrs{"scale": 0.07}, want: tys(ty(BF16, "T", 16, 128))},
	{op: "attention", args: tys(ty(F32, "T", 2, 8), ty(F32, "T", 2, 4), ty(F32, "T", 2, 8), ty(I32, "T"), ty(I32, "T")), attrs: Attrs{"scale": 0.5}, err: "q [T, 2, 8] and k [T, 2, 4] must match in tokens and head dim"},
	{op: "attention", args: tys(ty(F32, "T", 6, 8), ty(F32, "T", 2, 8), ty(F32, "T", 2, 4), ty(I32, "T"), ty(I32, "T")), attrs: Attrs{"scale": 0.5, "window": int64(4)}, want: tys(ty(F32, "T", 6, 4))},
	{op: "attention", args: tys(ty(F32, "T", 6, 8), ty(F32, "T", 4, 8), ty(F32, "T", 4, 8), ty(I32, "T"), ty(I32, "T")), attrs: Attrs{"scale": 0.5}, err: "k and v have 4 heads, which must divide q's 6"},
	{op: "attention", args: tys(ty(F32, "T", 6, 8), ty(F32, "T", "H", 8), ty(F32, "T", "H", 8), ty(I32, "T"), ty(I32, "T")), attrs: Attrs{"scale": 0.5}, err: "k and v have H heads, which must divide q's 6"},
	{op: "attention", args: tys(ty(F32, "T", 2, 8), ty(F32, "T", 2, 8), ty(F32, "T", 2, 8), ty(I32, "T"), ty(I32, "T")), attrs: Attrs{"scale": 0.5, "window": int64(-1)}, err: "attribute window must be a non-negative integer"},
	{op: "attention", args: tys(ty(F32, "T", 2, 8), ty(F32, "T", 2, 8), ty(F32, "T", 2, 8), ty(I32, "T"), ty(I32, "T")), attrs: Attrs{"scale": 0.5, "causal": int64(1)}, err: "attribute causal must be a bool"},
	{op: "attention", args: tys(ty(F32, "T", 2, 8), ty(F32, "T", 2, 8), ty(F32, "T", 3, 8), ty(I32, "T"), ty(I32, "T")), attrs: Attrs{"scale": 0.5}, err: "v [T, 3, 8] must match k [T, 2, 8] in tokens and heads"},
	{op: "attention", args: tys(ty(F32, "T", 2, 8), ty(BF16, "T", 2, 8), ty(F32, "T", 2, 8), ty(I32, "T"), ty(I32, "T")), attrs: Attrs{"scale": 0.5}, err: "q, k, v must share a float dtype"},
	{op: "attention", args: tys(ty(F32, "T", 8), ty(F32, "T", 8), ty(F32, "T", 8), ty(I32, "T"), ty(I32, "T")), attrs: Attrs{"scale": 0.5}, err: "q, k, v must be [T, H, d]"},
	{op: "attention", args: tys(ty(F32, "T", 2, 8), ty(F32, "T", 2, 8), ty(F32, "T", 2, 8), ty(I32, "T"), ty(I32, "S")), attrs: Attrs{"scale": 0.5}, err: "sequence ids must be an integer [T] tensor"},
	{op: "attention", args: tys(ty(F32, "T", 2, 8), ty(F32, "T", 2, 8), ty(F32, "T", 2, 8), ty(I32, "T")), attrs: Attrs{"scale": 0.5}, err: "attention takes 5 operands, got 4"},
	{op: "attention", args: tys(ty(F32, "T", 2, 8), ty(F32, "T", 2, 8), ty(F32, "T", 2, 8), ty(I32, "T"), ty(I32, "T")), attrs: Attrs{"scale": true}, err: "attribute scale must be a number"},
}

// TestInfer builds each case with Builder.Emit, the path every frontend
// takes: a valid case must give the expected types and verify; an invalid one
// must fail with the expected message.
func TestInfer(t *testing.T) {
	for i, c := range inferCases {
		t.Run(fmt.Sprintf("%s/%d", c.op, i), func(t *testing.T) {
			m := &Module{Name: "m"}
			b := m.NewFunc("f")
			var args []*Value
			for j, a := range c.args {
				args = append(args, b.Arg(fmt.Sprintf("a%d", j), a))
			}
			got, err := b.Emit(c.op, args, c.attrs)
			if c.want == nil {
				if err == nil {
					t.Fatalf("%s%v %v: got %v, want an error containing %q", c.op, c.args, c.attrs, types(got), c.err)
				}
				if !strings.Contains(err.Error(), c.err) {
					t.Fatalf("%s error\n  %v\ndoes not contain\n  %s", c.op, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s%v %v: %v", c.op, c.args, c.attrs, err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%s: %d results, want %d", c.op, len(got), len(c.want))
			}
			for j := range got {
				if !got[j].Type.Equal(c.want[j]) {
					t.Errorf("%s result %d: %s, want %s", c.op, j, got[j].Type, c.want[j])
				}
			}
			b.Return(got...)
			// Bind symbols that only the attributes introduce (expand to [T, 8]).
			var syms []Dim
			for _, w := range c.want {
				for _, s := range w.Shape.Syms() {
					syms = append(syms, S(s))
				}
			}
			b.Arg("syms", T(I32, syms...))
			if err := Verify(m); err != nil {
				t.Errorf("built module does not verify: %v", err)
			}
		})
	}
}

func types(vs []*Value) []Type {
	ts := make([]Type, len(vs))
	for i, v := range vs {
		ts[i] = v.Type
	}
	return ts
}

// TestInferCovered fails when an op with an inference rule has no valid or
// no invalid case in inferCases.
func TestInferCovered(t *testing.T) {
	valid, invalid := map[string]bool{}, map[string]bool{}
	for _, c := range inferCases {
		if Lookup(c.op) == nil {
			t.Errorf("inferCases names unknown op %s", c.op)
		}
		if c.want != nil {
			valid[c.op] = true
		} else {
			invalid[c.op] = true
		}
	}
	for _, d := range Ops() {
		if d.Infer == nil {
			continue
		}
		if !valid[d.Name] {
			t.Errorf("op %s has no valid case in inferCases", d.Name)
		}
		if !invalid[d.Name] {
			t.Errorf("op %s has no invalid case in inferCases", d.Name)
		}
	}
}

func TestEmitErrors(t *testing.T) {
	m := &Module{Name: "m"}
	b := m.NewFunc("f")
	x := b.Arg("x", T(F32, C(4)))
	if _, err := b.Emit("frobnicate", []*Value{x}, nil); err == nil || !strings.Contains(err.Error(), `unknown op "frobnicate"`) {
		t.Errorf("unknown op: %v", err)
	}
	if _, err := b.Emit("param", nil, Attrs{"name": "w"}); err == nil || !strings.Contains(err.Error(), "has no inferred type") {
		t.Errorf("param via Emit: %v", err)
	}
	if _, err := b.Emit1("topk", []*Value{x}, Attrs{"k": int64(1)}); err == nil || !strings.Contains(err.Error(), "expected one result, got 2") {
		t.Errorf("Emit1 of a two-result op: %v", err)
	}
	if _, err := b.Emit1("add", []*Value{x}, nil); err == nil {
		t.Error("Emit1 with wrong arity succeeded")
	}
	if len(b.F.Body) != 0 {
		t.Errorf("failed emits appended %d ops", len(b.F.Body))
	}
}

func TestBroadcastShapes(t *testing.T) {
	cases := []struct {
		a, b, want Shape
	}{
		{Shape{}, Shape{}, Shape{}},
		{Consts(3), Shape{}, Consts(3)},
		{Shape{S("T"), C(1)}, Consts(5), Shape{S("T"), C(5)}},
		{Consts(1, 1), Shape{S("T")}, Shape{C(1), S("T")}},
		{Shape{S("T"), C(1), C(3)}, Shape{C(4), C(1)}, Shape{S("T"), C(4), C(3)}},
	}
	for _, c := range cases {
		for _, swap := range []bool{false, true} {
			a, b := c.a, c.b
			if swap {
				a, b = b, a
			}
			got, err := BroadcastShapes(a, b)
			if err != nil || !got.Equal(c.want) {
				t.Errorf("BroadcastShapes(%s, %s) = %s, %v; want %s", a, b, got, err, c.want)
			}
		}
	}
	if _, err := BroadcastShapes(Shape{S("T")}, Shape{S("S")}); err == nil {
		t.Error("T and S broadcast")
	}
}
