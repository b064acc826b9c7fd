package runtime

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
)

// Tensor is a dense row-major tensor on the host. Float dtypes (f32, bf16,
// f16, f8e4m3, f8e5m2) keep their values in F as float32: a bf16 tensor's
// values are exactly bf16-representable, and so on, so every precision mode
// shares one storage type. Integer and bool dtypes keep their values in I.
//
// A block-quantized weight (an fp8 checkpoint tensor with weight_scale_inv)
// has DType f8e4m3, its fp8 values in F, and Scale: one f32 per block of
// Block[0] x Block[1] elements of the last two axes (edge blocks partial);
// the real value is F[i] * Scale[block of i].
type Tensor struct {
	DType ir.DType
	Shape []int
	F     []float32
	I     []int64
	Scale *Tensor
	Block [2]int
	// Derived holds forms of F that a backend computed once and keeps with
	// the tensor (the CPU backend's GEMM-packed weights). It is valid only
	// while F is unchanged: code that writes F in place sets it to nil.
	Derived any
}

// NewTensor allocates a zeroed tensor.
func NewTensor(dt ir.DType, shape ...int) *Tensor {
	t := &Tensor{DType: dt, Shape: append([]int(nil), shape...)}
	n := t.Numel()
	if dt.IsFloat() {
		t.F = make([]float32, n)
	} else {
		t.I = make([]int64, n)
	}
	return t
}

// Numel is the element count.
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Type returns the tensor's IR type (all dims constant).
func (t *Tensor) Type() ir.Type {
	s := make(ir.Shape, len(t.Shape))
	for i, d := range t.Shape {
		s[i] = ir.C(int64(d))
	}
	return ir.Type{Shape: s, DType: t.DType}
}

// Check reports whether the tensor's storage matches its dtype and shape.
func (t *Tensor) Check() error {
	n := t.Numel()
	switch {
	case !t.DType.Valid():
		return fmt.Errorf("invalid dtype")
	case t.DType.IsFloat() && len(t.F) != n:
		return fmt.Errorf("%s tensor of shape %v holds %d floats, want %d", t.DType, t.Shape, len(t.F), n)
	case !t.DType.IsFloat() && len(t.I) != n:
		return fmt.Errorf("%s tensor of shape %v holds %d ints, want %d", t.DType, t.Shape, len(t.I), n)
	}
	return nil
}

// RunFunc executes one function of a module on bound parameters: what a
// backend's executor offers (runtime/device.Executor.Run) and what the
// inference and training loops call when they run somewhere other than
// the CPU backend. How it computes (precision, threads) belongs to the
// backend, not to the call.
type RunFunc func(f *ir.Func, params map[string]*Tensor, args []*Tensor) ([]*Tensor, error)
