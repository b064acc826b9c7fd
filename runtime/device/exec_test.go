package device_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/codegen"
	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// tinyProgram compiles the tiny model as a bundle would (inference
// pipeline, plan-kernels, kernels emitted) and loads a random FP8
// checkpoint for it.
func tinyProgram(t *testing.T) (*ir.Module, map[string][]program.Step, map[string]*runtime.Tensor) {
	m, programs, params, _ := tinyProgramKernels(t, false)
	return m, programs, params
}

// tinyProgramKernels is tinyProgram with the kernels, as PTX when withPTX
// (llc runs; ptxas does not).
func tinyProgramKernels(t *testing.T, withPTX bool) (*ir.Module, map[string][]program.Step, map[string]*runtime.Tensor, []*codegen.Kernel) {
	return modelKernels(t, "deepseek_v3_tiny.deep", "fp8", withPTX)
}

// modelKernels is tinyProgramKernels for a model of models/ with random
// weights in format.
func modelKernels(t *testing.T, model, format string, withPTX bool) (*ir.Module, map[string][]program.Step, map[string]*runtime.Tensor, []*codegen.Kernel) {
	t.Helper()
	file := filepath.Join("..", "..", "models", model)
	gen, err := dsl.CompileFile(file, dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := weights.RandomCheckpoint(gen, dir, 3, format, 1); err != nil {
		t.Fatal(err)
	}
	m, err := dsl.CompileFile(file, dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	var copts codegen.Options
	if withPTX {
		copts = ptxOptions(t)
	}
	programs, kernels := compileKernels(t, m, map[string]string{"moe-block": "128"}, copts)
	params, err := weights.Load(infer.Stored(m), dir, weights.IgnoreTensors(models.CheckpointCopy))
	if err != nil {
		t.Fatal(err)
	}
	if err := infer.BindDerived(m, params); err != nil {
		t.Fatal(err)
	}
	return m, programs, params, kernels
}

// compileKernels runs the kernel pipeline over m (with the pass options
// given) and compiles its regions as a bundle's are: each function's
// program and the kernels.
func compileKernels(t *testing.T, m *ir.Module, options map[string]string, copts codegen.Options) (map[string][]program.Step, []*codegen.Kernel) {
	t.Helper()
	pl, err := passes.ParsePipeline(passes.KernelPipeline)
	if err != nil {
		t.Fatal(err)
	}
	if err := passes.Run(&passes.Context{Options: options}, m, pl); err != nil {
		t.Fatal(err)
	}
	res, err := codegen.Compile(context.Background(), m, copts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Missing) > 0 {
		t.Fatalf("regions without kernels: %v", res.Missing)
	}
	programs := map[string][]program.Step{}
	for fn, steps := range res.Programs {
		for _, s := range steps {
			programs[fn] = append(programs[fn], *s)
		}
	}
	return programs, res.Kernels
}

// ptxOptions compiles kernels to PTX (llc; no ptxas), through the cache.
func ptxOptions(t *testing.T) codegen.Options {
	tc, err := codegen.FindToolchain("", "", "")
	if tc == nil {
		t.Fatal(err)
	}
	return codegen.Options{Toolchain: tc, NoPTXAS: true, CacheDir: codegen.DefaultCacheDir()}
}

// The executor, with each launch run by the CPU backend on the device
// layouts, computes what the CPU backend computes running the whole
// function: forward, and prefill + decode steps over the KV cache.
func TestExecutorOnCPUBackendMatchesCPU(t *testing.T) {
	m, programs, params := tinyProgram(t)
	opts := cpu.Options{Mode: cpu.BF16}
	be := cpu.NewDevice(opts)
	ex := device.NewExecutor(be, programs)
	defer ex.Close()
	gpu := &infer.Model{Module: m, Params: params, Opts: opts, Run: ex.Run}
	ref := &infer.Model{Module: m, Params: params, Opts: opts}
	seqs := [][]int{{5, 9, 200, 17, 3, 44, 8}, {1, 2, 3}}
	want, err := ref.Forward(seqs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := gpu.Forward(seqs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want.Rows {
		for j := range want.Rows[i] {
			if !slices.Equal(got.Rows[i][j], want.Rows[i][j]) {
				t.Fatalf("forward: sequence %d position %d differs", i, j)
			}
		}
	}
	// Prefill 4 tokens of one sequence, then decode one at a time.
	cache := func(mm *infer.Model) [][]float32 {
		c, err := mm.NewCache(32)
		if err != nil {
			t.Fatal(err)
		}
		var rows [][]float32
		l, err := mm.Prefill(c, []int{0}, [][]int{{5, 9, 200, 17}})
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, l.Rows[0]...)
		for _, tok := range []int{3, 44, 8} {
			l, err := mm.Decode(c, []int{0}, []int{tok})
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, l.Rows[0]...)
		}
		return rows
	}
	w, g := cache(ref), cache(gpu)
	for i := range w {
		if !slices.Equal(w[i], g[i]) {
			t.Fatalf("prefill/decode: position %d differs", i)
		}
	}
	if be.Launches == 0 {
		t.Fatal("no launches")
	}
	t.Logf("%d launches through the executor", be.Launches)
}

// perturbing is a candidate backend that gets one kind of kernel wrong.
type perturbing struct {
	*cpu.Device
	kind string
}

func (p *perturbing) Launch(fn *ir.Func, st *program.Step, grid [3]uint32, args []uint64) error {
	if err := p.Device.Launch(fn, st, grid, args); err != nil {
		return err
	}
	if !strings.HasPrefix(st.Kernel, p.kind) {
		return nil
	}
	for i, a := range st.Args {
		if a.Output && a.ScaleOf == "" {
			b := make([]byte, 2)
			if err := p.Download(b, device.Buffer{Ptr: args[i], Size: 2}); err != nil {
				return err
			}
			b[1] ^= 0x40 // flip an exponent bit of the first element
			if err := p.Upload(device.Buffer{Ptr: args[i], Size: 2}, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// The comparing backend finds nothing between two correct backends, and
// finds a kernel kind that is wrong, while the run still completes with
// correct inputs everywhere (the reference's outputs repair the candidate's).
func TestCompareBackend(t *testing.T) {
	m, programs, params := tinyProgram(t)
	opts := cpu.Options{Mode: cpu.BF16}
	ref := &infer.Model{Module: m, Params: params, Opts: opts}
	seqs := [][]int{{5, 9, 200, 17, 3, 44, 8}}
	want, err := ref.Forward(seqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "rows_rms_norm", "gemm_linear"} {
		var cand device.Backend = cpu.NewDevice(opts)
		if bad != "" {
			cand = &perturbing{cpu.NewDevice(opts), bad}
		}
		cmp := device.NewCompareBackend(cand, cpu.NewDevice(opts))
		ex := device.NewExecutor(cmp, programs)
		res, err := ex.Run(m.Func("forward"), params, packed(seqs))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res[0].F[:len(want.Rows[0][0])], want.Rows[0][0]) {
			t.Errorf("bad=%q: logits not repaired", bad)
		}
		var flagged []string
		for name, kc := range cmp.Results {
			if kc.RelErr > device.Tolerance(kc.DType, false) || kc.Mismatch > 0 {
				flagged = append(flagged, name)
			}
		}
		for _, name := range flagged {
			if bad == "" || !strings.HasPrefix(name, bad) {
				t.Errorf("bad=%q: kernel %s flagged (%+v)", bad, name, *cmp.Results[name])
			}
		}
		if bad != "" && len(flagged) == 0 {
			t.Errorf("bad=%q: the wrong kernels went unnoticed", bad)
		}
		ex.Close()
	}
}

func packed(seqs [][]int) []*runtime.Tensor {
	n := 0
	for _, s := range seqs {
		n += len(s)
	}
	tok, pos, seq := runtime.NewTensor(ir.I32, n), runtime.NewTensor(ir.I32, n), runtime.NewTensor(ir.I32, n)
	k := 0
	for i, s := range seqs {
		for j, x := range s {
			tok.I[k], pos.I[k], seq.I[k] = int64(x), int64(j), int64(i)
			k++
		}
	}
	return []*runtime.Tensor{tok, pos, seq}
}

// The memory plan never lets two tensors that are live at the same step
// share bytes, keeps every tensor inside the arena, and reuses memory.
func TestMemoryPlan(t *testing.T) {
	m, programs, _ := tinyProgram(t)
	for _, fn := range []string{"forward", "prefill", "decode"} {
		for _, T := range []int64{1, 37, 512} {
			p, err := device.PlanMemory(m.Func(fn), programs[fn], map[string]int64{"T": T, "C": 600})
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range p.Slots {
				if a.Offset+a.Size > p.Peak {
					t.Fatalf("%s T=%d: slot %d ends at %d beyond the arena's %d", fn, T, i, a.Offset+a.Size, p.Peak)
				}
				for _, b := range p.Slots[i+1:] {
					live := a.First <= b.Last && b.First <= a.Last
					overlap := a.Offset < b.Offset+b.Size && b.Offset < a.Offset+a.Size
					if live && overlap && a.Size > 0 && b.Size > 0 {
						t.Fatalf("%s T=%d: live tensors share bytes: [%d,%d) steps %d-%d and [%d,%d) steps %d-%d", fn, T,
							a.Offset, a.Offset+a.Size, a.First, a.Last, b.Offset, b.Offset+b.Size, b.First, b.Last)
					}
				}
			}
			if p.Peak >= p.Total/2 {
				t.Errorf("%s T=%d: peak %d of %d bytes without reuse: expected at least 2x from liveness", fn, T, p.Peak, p.Total)
			}
			if T == 512 {
				t.Logf("%s T=%d: arena %d KiB, %d KiB without reuse (%.1fx)", fn, T, p.Peak>>10, p.Total>>10, float64(p.Total)/float64(p.Peak))
			}
		}
	}
}
