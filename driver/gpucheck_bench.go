package driver

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/cuda"
	"github.com/deepc-dev/deepc/runtime/device"
)

// benchKernels times the FP8 GEMMs and the attention of a DeepSeek-V3
// prefill program at T = 4096 on random data (no checkpoint: the weights
// are random fp8 with unit-order scales).
func benchKernels(out io.Writer, gpu *cuda.GPU, dir string) error {
	man, err := bundle.Open(dir, "")
	if err != nil {
		return err
	}
	v3, err := cuda.LoadBundle(gpu.Dev, dir, man)
	if err != nil {
		return err
	}
	programs, err := device.Programs(man)
	if err != nil {
		return err
	}
	m, err := BundleModule(dir, "ir/module.ir")
	if err != nil {
		return err
	}
	f := m.Func("prefill")
	if f == nil {
		return fmt.Errorf("--bench %s: no prefill program", dir)
	}
	const T, checkT = 4096, 256
	env := map[string]int64{"T": T, "C": T}
	failed := false
	fmt.Fprintf(out, "\n| kernel (DeepSeek-V3 prefill, T = %d) | shape | time (ms) | TFLOP/s | rel. error vs CPU at T = %d |\n|---|---|---|---|---|\n", T, checkT)
	seen := map[string]bool{}
	rng := rand.New(rand.NewPCG(7, 7))
	regions := regionOps(f)
	for _, st := range programs["prefill"] {
		kind := benchKind(regions[st.Region])
		if kind == "" {
			continue
		}
		shape := describeStep(st)
		if seen[shape] {
			continue
		}
		seen[shape] = true
		ptrs, flops, free, err := randomArgs(gpu, st, env, rng)
		if err != nil {
			return err
		}
		var grid [3]uint32
		for i, g := range st.Launch.Grid {
			n, err := g.Eval(env)
			if err != nil {
				return err
			}
			grid[i] = uint32(n)
		}
		// Numerics first, at a size the CPU reference (FP8 mode: the
		// recipe the kernel implements) computes in seconds.
		check := "-"
		if kind == "gemm" {
			r, err := checkStep(v3, f, st, map[string]int64{"T": checkT, "C": checkT}, rng)
			if err != nil {
				return err
			}
			ok := r.RelErr <= device.Tolerance(r.DType, strings.Contains(shape, "f8e4m3"))
			failed = failed || !ok
			check = fmt.Sprintf("%.2e %s", r.RelErr, yes(ok))
		}
		launch := func() error { return v3.Launch(f, &st, grid, ptrs) }
		if err := launch(); err != nil { // warm-up
			return err
		}
		const reps = 10
		ms, err := gpu.Dev.Time(func() error {
			for range reps {
				if err := launch(); err != nil {
					return err
				}
			}
			return nil
		})
		free()
		if err != nil {
			return err
		}
		ms /= reps
		tf := "-"
		if flops > 0 {
			tf = fmt.Sprintf("%.1f", flops/(ms*1e-3)/1e12)
		}
		fmt.Fprintf(out, "| %s (%s) | %s | %.3f | %s | %s |\n", st.Kernel, kind, shape, ms, tf, check)
	}
	if failed {
		return errors.New("gpu-check: a DeepSeek-V3 GEMM differs from the CPU reference (see the table)")
	}
	return nil
}

// benched are the ops whose kernels --bench times, with the kind its table
// gives them (kv-cache makes prefill's attention attention_cache).
var benched = map[*ir.OpDef]string{
	ir.OpLinear:         "gemm",
	ir.OpAttention:      "attention",
	ir.OpAttentionCache: "attention",
}

// benchKind is the kind of the first benched op of a region ("" for none).
func benchKind(ops []*ir.Op) string {
	for _, op := range ops {
		if kind, ok := benched[op.Def()]; ok {
			return kind
		}
	}
	return ""
}

// regionOps maps each kernel region of f (plan-kernels' kernel attribute,
// a program step's Region) to its ops in program order: what a step
// computes, by op rather than by its kernel's name.
func regionOps(f *ir.Func) map[int][]*ir.Op {
	regions := map[int][]*ir.Op{}
	for _, op := range f.Body {
		if id, ok := op.Attrs.Int(passes.KernelAttr); ok {
			regions[int(id)] = append(regions[int(id)], op)
		}
	}
	return regions
}

func describeStep(st program.Step) string {
	var parts []string
	for _, a := range st.Args {
		if a.ScaleOf == "" {
			parts = append(parts, fmt.Sprintf("%s[%s]", a.DType, strings.Join(a.Shape, ",")))
		}
	}
	return strings.Join(parts, " ")
}

// randomArgs allocates a step's tensors with random contents at the given
// symbols; flops is 2·M·N·K for a GEMM (x [M, K], w [N, K]).
func randomArgs(gpu device.Backend, st program.Step, env map[string]int64, rng *rand.Rand) ([]uint64, float64, func(), error) {
	var ptrs []uint64
	var bufs []device.Buffer
	free := func() {
		for _, b := range bufs {
			gpu.Free(b)
		}
	}
	var shapes [][]int
	for _, a := range st.Args {
		var shape []int
		for _, d := range a.Shape {
			dd, err := program.ParseDim(d)
			if err != nil {
				return nil, 0, free, err
			}
			v, _ := dd.Eval(env)
			shape = append(shape, int(v))
		}
		if a.ScaleOf != "" {
			// The scaled tensor's grid: the scaled argument precedes it.
			for i, b := range st.Args {
				if b.Value == a.ScaleOf && b.ScaleOf == "" {
					shape = runtime.ScaleGrid(shapes[i], [2]int{int(a.Block[0]), int(a.Block[1])})
				}
			}
		}
		shapes = append(shapes, shape)
		dt, _ := ir.ParseDType(a.DType)
		t := runtime.NewTensor(dt, shape...)
		for i := range t.F {
			switch {
			case a.ScaleOf != "":
				t.F[i] = 1.0 / 448
			case dt == ir.F8E4M3:
				t.F[i] = runtime.RoundE4M3(float32(rng.NormFloat64() * 64))
			default:
				t.F[i] = float32(rng.NormFloat64())
			}
		}
		for i := range t.I { // positions and sequence ids: one causal sequence
			t.I[i] = int64(i % max(1, shape[0]))
			if strings.Contains(a.Value, "seq") {
				t.I[i] = 0
			}
		}
		data, err := device.Encode(t, dt)
		if err != nil {
			return nil, 0, free, err
		}
		b, err := gpu.Alloc(uint64(len(data)))
		if err != nil {
			return nil, 0, free, err
		}
		bufs = append(bufs, b)
		if err := gpu.Upload(b, data); err != nil {
			return nil, 0, free, err
		}
		ptrs = append(ptrs, b.Ptr)
	}
	for _, s := range st.Symbols {
		ptrs = append(ptrs, uint64(env[s]))
	}
	var flops float64
	if len(shapes) >= 2 && len(shapes[1]) == 2 && strings.HasPrefix(st.Kernel, "gemm_") {
		M := 1
		for _, d := range shapes[0][:len(shapes[0])-1] {
			M *= d
		}
		flops = 2 * float64(M) * float64(shapes[1][0]) * float64(shapes[1][1])
	}
	return ptrs, flops, free, nil
}

// checkStep runs one step of f on random inputs at the symbols in env on
// cand and on the CPU backend (FP8 mode: the recipe the GEMMs implement)
// and returns the comparison.
func checkStep(cand device.Backend, f *ir.Func, st program.Step, env map[string]int64, rng *rand.Rand) (*device.KernelCheck, error) {
	cmp := device.NewCompareBackend(cand, cpu.NewDevice(cpu.Options{Mode: cpu.FP8}))
	ptrs, _, free, err := randomArgs(cmp, st, env, rng)
	defer free()
	if err != nil {
		return nil, err
	}
	var grid [3]uint32
	for i, g := range st.Launch.Grid {
		n, err := g.Eval(env)
		if err != nil {
			return nil, err
		}
		grid[i] = uint32(n)
	}
	if err := cmp.Launch(f, &st, grid, ptrs); err != nil {
		return nil, err
	}
	return cmp.Results[st.Kernel], nil
}
