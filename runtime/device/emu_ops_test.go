package device_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/deepc-dev/deepc/codegen"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/device"
)

// compileForEmu compiles an IR module's functions to kernels (as PTX)
// and programs, as a bundle's are.
func compileForEmu(t *testing.T, text string) (*ir.Module, map[string][]program.Step, []*codegen.Kernel) {
	t.Helper()
	m, err := ir.Parse("emu.ir", text)
	if err != nil {
		t.Fatal(err)
	}
	programs, kernels := compileKernels(t, m, nil, ptxOptions(t))
	return m, programs, kernels
}

// GELU in its exact form, a composite over erf (docs/op-semantics.md),
// and erf alone, as GPU kernels.
const erfIR = `module @m {
  composite @gelu_emu_test(%x: [R, C] f32) -> ([R, C] f32) {
    %r = const {dtype = f32, value = 0.7071067811865476} : [] f32
    %one = const {dtype = f32, value = 1.0} : [] f32
    %half = const {dtype = f32, value = 0.5} : [] f32
    %0 = mul %x, %r : [R, C] f32
    %1 = erf %0 : [R, C] f32
    %2 = add %1, %one : [R, C] f32
    %3 = mul %x, %2 : [R, C] f32
    %4 = mul %3, %half : [R, C] f32
    return %4
  }
  func @f(%x: [N, 64] f32) -> ([N, 64] f32, [N, 64] f32) {
    %0 = erf %x : [N, 64] f32
    %1 = gelu_emu_test %x : [N, 64] f32
    return %0, %1
  }
}`

// TestEmulatorErf runs erf's PTX (Abramowitz–Stegun 7.1.26 over ex2) on
// the emulator: every value within 2e-6 of math.Erf on [-6, 6], and GELU
// built on it within 2e-6 relative of x·Φ(x), each launch also checked
// against the CPU backend.
func TestEmulatorErf(t *testing.T) {
	m, programs, kernels := compileForEmu(t, erfIR)
	const N = 24
	x := runtime.NewTensor(ir.F32, N, 64)
	for i := range x.F {
		x.F[i] = float32(-6 + 12*float64(i)/float64(len(x.F)-1))
	}
	// The emulator alone (a comparing backend hands on the reference's
	// results), then each launch against the CPU backend.
	dev, cmp := emulated(t, kernels, cpu.Options{Mode: cpu.FP32})
	alone := device.NewExecutor(dev, programs)
	defer alone.Close()
	out, err := alone.Run(m.Func("f"), nil, []*runtime.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	ex := device.NewExecutor(cmp, programs)
	defer ex.Close()
	if _, err := ex.Run(m.Func("f"), nil, []*runtime.Tensor{x}); err != nil {
		t.Fatal(err)
	}
	var worstErf, worstGelu float64
	for i, v := range x.F {
		xv := float64(v)
		worstErf = max(worstErf, math.Abs(float64(out[0].F[i])-math.Erf(xv)))
		g := xv * 0.5 * (1 + math.Erf(xv/math.Sqrt2))
		worstGelu = max(worstGelu, math.Abs(float64(out[1].F[i])-g)/max(math.Abs(g), 1))
	}
	if worstErf > 2e-6 || worstGelu > 2e-6 {
		t.Errorf("emulated GPU erf: max |error| %.3g, GELU %.3g; want both <= 2e-6", worstErf, worstGelu)
	} else {
		t.Logf("emulated GPU erf: max |error| %.2g; GELU %.2g", worstErf, worstGelu)
	}
	checkKernels(t, cmp, kernels, programs, "f")
}

// TestEmulatorRope runs rope's PTX on the emulator in its layouts, with
// partial rotary (rotary_dim) and dynamic NTK scaling (the positions'
// maximum, log and exp in f64 inside the kernel): the same values as the
// CPU backend's (within f32 sin/cos), each launch also checked by the
// comparing backend.
func TestEmulatorRope(t *testing.T) {
	for _, c := range []struct{ name, attrs string }{
		{"half", `layout = "half", theta = 10000.0`},
		{"half partial dynamic", `layout = "half", rotary_dim = 8, scaling = {type = "dynamic", factor = 4.0, original_max_position_embeddings = 64}, theta = 10000.0`},
		{"interleaved partial dynamic", `rotary_dim = 6, scaling = {type = "dynamic", factor = 2.0, original_max_position_embeddings = 100}, theta = 500000.0`},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := fmt.Sprintf(`module @m {
  func @f(%%x: [N, 2, 16] f32, %%pos: [N] i32) -> ([N, 2, 16] f32) {
    %%0 = rope %%x, %%pos {%s} : [N, 2, 16] f32
    return %%0
  }
}`, c.attrs)
			m, programs, kernels := compileForEmu(t, src)
			const N = 9
			x := runtime.NewTensor(ir.F32, N, 2, 16)
			for i := range x.F {
				x.F[i] = float32(math.Sin(float64(i)*0.37)) + 0.1
			}
			pos := runtime.NewTensor(ir.I32, N)
			for i := range pos.I {
				pos.I[i] = int64(i*i*13 + 1)
			}
			want, err := cpu.Run(m.Func("f"), nil, []*runtime.Tensor{x, pos}, cpu.Options{Mode: cpu.FP32})
			if err != nil {
				t.Fatal(err)
			}
			dev, cmp := emulated(t, kernels, cpu.Options{Mode: cpu.FP32})
			alone := device.NewExecutor(dev, programs)
			defer alone.Close()
			got, err := alone.Run(m.Func("f"), nil, []*runtime.Tensor{x, pos})
			if err != nil {
				t.Fatal(err)
			}
			var worst float64
			for i := range got[0].F {
				worst = max(worst, math.Abs(float64(got[0].F[i]-want[0].F[i])))
			}
			if worst > 1e-5 {
				t.Errorf("emulated rope: max |difference| from the CPU %.3g, want <= 1e-5", worst)
			} else {
				t.Logf("emulated rope: max |difference| from the CPU %.2g", worst)
			}
			ex := device.NewExecutor(cmp, programs)
			defer ex.Close()
			if _, err := ex.Run(m.Func("f"), nil, []*runtime.Tensor{x, pos}); err != nil {
				t.Fatal(err)
			}
			checkKernels(t, cmp, kernels, programs, "f")
		})
	}
}
