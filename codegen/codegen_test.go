package codegen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/passes/autodiff"
	"github.com/deepc-dev/deepc/runtime/emu"
)

const inference = passes.KernelPipeline

var inferenceGraphs = []string{"forward", "prefill", "decode", "mtp", "mtp_prefill", "mtp_decode"}

// planned compiles a model file of the repository with a pipeline.
func planned(t testing.TB, file, pipeline string, sets ...string) *ir.Module {
	t.Helper()
	m, err := dsl.CompileFile(filepath.Join("..", file), dsl.Options{Sets: sets, ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, m, pipeline)
	return m
}

func runPipeline(t testing.TB, m *ir.Module, pipeline string) {
	t.Helper()
	pl, err := passes.ParsePipeline(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	if err := passes.Run(&passes.Context{Options: map[string]string{"moe-block": "128"}}, m, pl); err != nil {
		t.Fatal(err)
	}
}

// trainPlanned is the train program (FP8 or BF16) of a model, planned.
func trainPlanned(t testing.TB, file string, fp8 bool) *ir.Module {
	t.Helper()
	m := planned(t, file, passes.CanonicalPipeline)
	o := autodiff.DeepSeekV3
	o.FP8 = fp8
	if err := autodiff.TrainKernels(m, o); err != nil {
		t.Fatal(err)
	}
	return m
}

// toolchain finds llc and ptxas; make test installs both
// (scripts/toolchain.sh), so a missing tool fails rather than skips.
func toolchain(t testing.TB) *Toolchain {
	t.Helper()
	tc, err := FindToolchain("", "", "sm_90a")
	if err != nil {
		t.Fatalf("%v (make deps installs the toolchain)", err)
	}
	return tc
}

// checkKernels assembles every kernel with ptxas for sm_90a and checks:
// a cubin for each, no spills, no ptxas warnings (a serialized wgmma
// among them), the tensor-core instruction each GEMM's
// operand type needs in its SASS, and no region without a kernel.
func checkKernels(t *testing.T, units []Unit) *Result {
	tc := toolchain(t)
	res, err := CompileUnits(context.Background(), units, Options{Toolchain: tc, Workers: runtime.NumCPU(), CacheDir: DefaultCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	sassWant := map[string]*regexp.Regexp{"bf16": regexp.MustCompile(`HGMMA\.64x128x16\.F32\.BF16`), "e4m3": regexp.MustCompile(`QGMMA\.64x128x32\.F32\.E4M3\.E4M3`)}
	var mma []*Kernel
	for _, k := range res.Kernels {
		if len(k.Cubin) == 0 {
			t.Errorf("%s: no cubin", k.Name)
			continue
		}
		if r := k.Resources; r.SpillStores+r.SpillLoads+r.StackBytes > 0 {
			t.Errorf("%s (%s): spills %+v", k.Name, k.Kind, r)
		}
		if w := k.Resources.Warnings; len(w) > 0 {
			t.Errorf("%s (%s): ptxas warns: %s", k.Name, k.Kind, strings.Join(w, "; "))
		}
		if k.MMA != "" {
			mma = append(mma, k)
		}
	}
	gmma := gmmaLines(t, tc, mma)
	for i, k := range mma {
		if !sassWant[k.MMA].MatchString(gmma[i]) {
			t.Errorf("%s: %s GEMM without %s in its SASS", k.Name, k.MMA, sassWant[k.MMA])
		}
	}
	for fn, list := range res.Missing {
		for _, d := range list {
			t.Errorf("%s: region without a kernel: %s", fn, d)
		}
	}
	// The emulator decodes every instruction of every kernel: an opcode,
	// type or modifier it does not implement fails here, so a new
	// instruction in an emitter cannot slip past it.
	for _, k := range res.Kernels {
		if _, err := emu.Parse(k.PTX); err != nil {
			t.Errorf("%s: the PTX emulator cannot run it: %v", k.Name, err)
		}
	}
	// A block reduction's shared slots (red<threads>) are sized for the
	// block it was emitted for: every launch of the kernel has that many
	// threads (a 128-thread launch of a 256-thread reduction reads slots
	// nothing wrote).
	reRed := regexp.MustCompile(`\.shared [^\n]*\bred(\d+)\[`)
	ptx := map[string]string{}
	for _, k := range res.Kernels {
		ptx[k.Name] = k.PTX
	}
	for fn, steps := range res.Programs {
		for _, st := range steps {
			for _, m := range reRed.FindAllStringSubmatch(ptx[st.Kernel], -1) {
				if m[1] != fmt.Sprint(st.Launch.Threads) {
					t.Errorf("%s: %s reduces over %s threads but is launched with %d", fn, st.Kernel, m[1], st.Launch.Threads)
				}
			}
		}
	}
	return res
}

func summary(res *Result) string {
	launches, mma := 0, map[string]int{}
	for _, p := range res.Programs {
		launches += len(p)
	}
	for _, k := range res.Kernels {
		mma[k.MMA]++
	}
	var simt []string
	for _, k := range res.Kernels {
		if k.Kind == "gemm" && k.MMA == "" {
			simt = append(simt, strings.Join(k.Ops, ","))
		}
	}
	slices.Sort(simt)
	return fmt.Sprintf("%d kernels (%d bf16 and %d e4m3 tensor-core GEMMs; SIMT GEMMs: %s), %d launches; without a kernel yet: %s",
		len(res.Kernels), mma["bf16"], mma["e4m3"], strings.Join(slices.Compact(simt), " "), launches, strings.Join(res.MissingKinds(), " "))
}

func TestTinyModelKernels(t *testing.T) {
	inf := planned(t, "models/deepseek_v3_tiny.deep", inference)
	res := checkKernels(t, []Unit{{Module: inf, Funcs: inferenceGraphs}, {Module: trainPlanned(t, "models/deepseek_v3_tiny.deep", true), Funcs: []string{"train"}},
		{Module: trainPlanned(t, "models/deepseek_v3_tiny.deep", false), Funcs: []string{"train"}}})
	t.Log(summary(res))
	for _, g := range append(inferenceGraphs, "train") {
		if len(res.Programs[g]) == 0 {
			t.Errorf("graph %s has no launches", g)
		}
	}
}

func TestDeepSeekV3Kernels(t *testing.T) {
	if testing.Short() {
		t.Skip("assembles every kernel of the full model")
	}
	inf := planned(t, "models/deepseek_v3.deep", inference)
	res := checkKernels(t, []Unit{{Module: inf, Funcs: []string{"prefill", "decode"}}, {Module: trainPlanned(t, "models/deepseek_v3.deep", true), Funcs: []string{"train"}},
		{Module: trainPlanned(t, "models/deepseek_v3.deep", false), Funcs: []string{"train"}}})
	t.Log(summary(res))
}

// gmmaLines disassembles each kernel's cubin and keeps its warpgroup MMA
// lines. Disassembly is most of this package's test time (cuobjdump takes
// most of a second per kernel), so kernels run in parallel and the lines
// are kept in the kernel cache's directory under the SHA-256 of the
// disassembler's version and the cubin: a later run, or the other test
// that assembles the same kernel, reads them instead.
func gmmaLines(t *testing.T, tc *Toolchain, ks []*Kernel) []string {
	t.Helper()
	dir := DefaultCacheDir()
	// Keyed by what cuobjdump says of itself, not its path (see identity).
	version, _, err := run(context.Background(), nil, tc.Cuobjdump, "--version")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(ks))
	errs := make([]error, len(ks))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, k := range ks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			h := sha256.Sum256(append(append(slices.Clip(version), 0), k.Cubin...))
			file := ""
			if dir != "" {
				file = filepath.Join(dir, "sass", hex.EncodeToString(h[:])+".txt")
				if b, err := os.ReadFile(file); err == nil {
					out[i] = string(b)
					return
				}
			}
			sass, err := tc.SASS(context.Background(), k.Cubin)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", k.Name, err)
				return
			}
			var lines []string
			for _, l := range strings.Split(sass, "\n") {
				if strings.Contains(l, "GMMA") {
					lines = append(lines, strings.TrimSpace(l))
				}
			}
			out[i] = strings.Join(lines, "\n")
			if file != "" && os.MkdirAll(filepath.Dir(file), 0o755) == nil {
				if f, err := os.CreateTemp(filepath.Dir(file), "*.tmp"); err == nil {
					_, werr := f.WriteString(out[i])
					if werr != nil || f.Close() != nil || os.Rename(f.Name(), file) != nil {
						os.Remove(f.Name())
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return out
}
