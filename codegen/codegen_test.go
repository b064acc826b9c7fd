package codegen

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
)

const inference = "canonicalize,kv-cache,mla-absorb,fuse-siblings,moe-lower,cse,dce,plan-kernels"

// planned compiles a model file of the repository with a pipeline.
func planned(t testing.TB, file, pipeline string, sets ...string) *ir.Module {
	t.Helper()
	m, err := dsl.CompileFile(filepath.Join("..", file), dsl.Options{Sets: sets, ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := passes.ParsePipeline(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	if err := passes.Run(&passes.Context{Options: map[string]string{"moe-block": "128"}}, m, pl); err != nil {
		t.Fatal(err)
	}
	return m
}

// toolchain finds llc and ptxas; make test installs both (scripts/toolchain.sh),
// so a missing tool fails rather than skips.
func toolchain(t testing.TB) *Toolchain {
	t.Helper()
	tc, err := FindToolchain("", "", "sm_90a")
	if err != nil {
		t.Fatalf("%v (make deps installs the toolchain)", err)
	}
	return tc
}

func TestTinyModelKernelsAssemble(t *testing.T) {
	m := planned(t, "models/deepseek_v3_tiny.deep", inference)
	res, err := Compile(context.Background(), m, Options{Toolchain: toolchain(t), Workers: runtime.NumCPU()})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range res.Kernels {
		if len(k.Cubin) == 0 {
			t.Errorf("%s has no cubin", k.Name)
		}
	}
	for _, p := range res.Programs {
		n += len(p)
	}
	t.Logf("%d kernels, %d launches; no emitter yet: %s", len(res.Kernels), n, strings.Join(res.MissingKinds(), " "))
	if len(res.Kernels) == 0 {
		t.Fatal("no kernels")
	}
	if os.Getenv("DEEPC_DUMP") != "" {
		for _, k := range res.Kernels {
			os.WriteFile("/tmp/"+k.Name+".ll", []byte(k.LLVM), 0o644)
			os.WriteFile("/tmp/"+k.Name+".ptx", []byte(k.PTX), 0o644)
		}
	}
}

func TestGEMMResources(t *testing.T) {
	m := planned(t, "models/deepseek_v3_tiny.deep", inference)
	tc := toolchain(t)
	res, err := Compile(context.Background(), m, Options{Toolchain: tc, Funcs: []string{"prefill"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range res.Kernels {
		if k.Kind != "gemm" {
			continue
		}
		sass, err := tc.SASS(context.Background(), k.Cubin)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %+v QGMMA=%v HGMMA=%v", k.Name, k.Resources, strings.Contains(sass, "QGMMA"), strings.Contains(sass, "HGMMA"))
	}
}
