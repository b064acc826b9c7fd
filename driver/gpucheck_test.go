package driver

import (
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/device"
)

// gpu-check's DeepSeek-V3 GEMM check on random inputs (scale grids
// included), with the CPU standing in for the GPU: the two agree exactly;
// and --bench finds the GEMM and attention steps it times, by op.
func TestCheckStepOnDeepSeekV3GEMMs(t *testing.T) {
	file := filepath.Join("..", "models", "deepseek_v3.deep")
	m, err := dsl.CompileFile(file, dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := passes.ParsePipeline(passes.KernelPipeline)
	if err != nil {
		t.Fatal(err)
	}
	if err := passes.Run(&passes.Context{}, m, pl); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "v3")
	b := Bundle{Module: m, File: file, Out: out, Target: "sm_90a", Graphs: []string{"prefill"}, NoPTXAS: true, Compiler: "deepc test"}
	if err := b.Build(io.Discard); err != nil {
		t.Fatal(err)
	}
	man, err := bundle.Open(out, "")
	if err != nil {
		t.Fatal(err)
	}
	programs, err := device.Programs(man)
	if err != nil {
		t.Fatal(err)
	}
	bm, err := BundleModule(out, "ir/module.ir")
	if err != nil {
		t.Fatal(err)
	}
	// --bench's selection: prefill's GEMMs and attentions, by op.
	regions := regionOps(bm.Func("prefill"))
	kinds := map[string]int{}
	for _, st := range programs["prefill"] {
		kinds[benchKind(regions[st.Region])]++
	}
	if kinds["gemm"] == 0 || kinds["attention"] == 0 {
		t.Errorf("--bench would time %d GEMM and %d attention steps of DeepSeek-V3's prefill; want some of each", kinds["gemm"], kinds["attention"])
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, st := range programs["prefill"] {
		if benchKind(regions[st.Region]) != "gemm" || !strings.Contains(describeStep(st), "f8e4m3[24576,1536]") {
			continue
		}
		r, err := checkStep(cpu.NewDevice(cpu.Options{Mode: cpu.FP8}), bm.Func("prefill"), st, map[string]int64{"T": 16, "C": 16}, rng)
		if err != nil {
			t.Fatal(err)
		}
		if r.RelErr != 0 || r.Elements == 0 {
			t.Fatalf("%s: %+v", st.Kernel, *r)
		}
		return
	}
	t.Fatal("no q_b_proj GEMM (N=24576, K=1536) in DeepSeek-V3's prefill program")
}
