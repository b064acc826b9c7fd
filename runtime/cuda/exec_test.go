package cuda_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deepc-dev/deepc/codegen"
	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/cuda"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// tinyProgram compiles the tiny model as a bundle would (inference
// pipeline, plan-kernels, kernels emitted) and loads a random FP8
// checkpoint for it.
func tinyProgram(t *testing.T) (*ir.Module, map[string][]bundle.Step, map[string]*runtime.Tensor) {
	t.Helper()
	file := filepath.Join("..", "..", "models", "deepseek_v3_tiny.deep")
	gen, err := dsl.CompileFile(file, dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := weights.RandomCheckpoint(gen, dir, 3, "fp8", 1); err != nil {
		t.Fatal(err)
	}
	m, err := dsl.CompileFile(file, dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := passes.ParsePipeline("canonicalize,kv-cache,mla-absorb,fuse-siblings,moe-lower,cse,dce,plan-kernels")
	if err != nil {
		t.Fatal(err)
	}
	if err := passes.Run(&passes.Context{Options: map[string]string{"moe-block": "128"}}, m, pl); err != nil {
		t.Fatal(err)
	}
	res, err := codegen.Compile(context.Background(), m, codegen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Missing) > 0 {
		t.Fatalf("regions without kernels: %v", res.Missing)
	}
	programs := map[string][]bundle.Step{}
	for fn, steps := range res.Programs {
		for _, s := range steps {
			programs[fn] = append(programs[fn], *s)
		}
	}
	params, err := weights.Load(infer.Stored(m), dir, weights.IgnoreTensors(models.CheckpointCopy))
	if err != nil {
		t.Fatal(err)
	}
	if err := infer.BindDerived(m, params); err != nil {
		t.Fatal(err)
	}
	return m, programs, params
}

// The executor, with each launch run by the CPU backend on the device
// layouts, computes what the CPU backend computes running the whole
// function: forward, and prefill + decode steps over the KV cache.
func TestExecutorOnCPUBackendMatchesCPU(t *testing.T) {
	m, programs, params := tinyProgram(t)
	opts := cpu.Options{Mode: cpu.BF16}
	be := cuda.NewCPUBackend(opts)
	ex := cuda.NewExecutor(be, programs)
	defer ex.Close()
	gpu := &infer.Model{Module: m, Params: params, Opts: opts, Run: func(f *ir.Func, p map[string]*runtime.Tensor, a []*runtime.Tensor, _ cpu.Options) ([]*runtime.Tensor, error) {
		return ex.Run(f, p, a)
	}}
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
