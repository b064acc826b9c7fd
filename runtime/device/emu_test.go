package device_test

import (
	"errors"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/codegen"
	"github.com/deepc-dev/deepc/internal/testseed"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/deepc-dev/deepc/runtime/emu"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/train"
)

// The emulator runs the exact PTX of every kernel of the tiny model, with
// its sanitizer on, each launch checked against the CPU backend in the
// precision the kernels compute (gpu-check's harness and tolerances):
// forward, prefill and decode here, both train programs below.

// emulated loads kernels (their PTX) onto an emulator with the sanitizer
// on and pairs it with the CPU backend in a comparing backend whose
// tolerances are gpu-check's.
func emulated(t *testing.T, kernels []*codegen.Kernel, opts cpu.Options) (*emu.Device, *device.CompareBackend) {
	t.Helper()
	dev := emu.NewDevice(emu.Options{Sanitize: true, Seed: testseed.Seed(t)})
	fp8 := map[string]bool{}
	for _, k := range kernels {
		if _, err := dev.LoadPTX(k.PTX); err != nil {
			t.Fatalf("%s: %v", k.Name, err)
		}
		fp8[k.Name] = k.MMA == "e4m3"
	}
	cmp := device.NewCompareBackend(dev, cpu.NewDevice(opts))
	cmp.Tolerance = func(kernel, dtype string) float64 { return device.Tolerance(dtype, fp8[kernel]) }
	return dev, cmp
}

// checkKernels fails on a kernel outside its tolerance and on a kernel of
// the programs that never ran.
func checkKernels(t *testing.T, cmp *device.CompareBackend, kernels []*codegen.Kernel, programs map[string][]program.Step, graphs ...string) {
	t.Helper()
	fp8 := map[string]bool{}
	for _, k := range kernels {
		fp8[k.Name] = k.MMA == "e4m3"
	}
	var names []string
	for n := range cmp.Results {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		kc := cmp.Results[n]
		p := kc.Precision
		if p == "" {
			p = kc.DType
		}
		tol := device.Tolerance(p, fp8[n])
		if !kc.Passed(tol) {
			t.Errorf("%s: relative error %.3g (%s; %.3g of its terms' magnitude), tolerance %.0e, %d integer mismatches, error %q", n, kc.RelErr, kc.DType, kc.ScaleErr, tol, kc.Mismatch, kc.Err)
		}
	}
	for _, g := range graphs {
		for _, st := range programs[g] {
			if cmp.Results[st.Kernel] == nil {
				t.Errorf("%s: kernel %s never ran", g, st.Kernel)
			}
		}
	}
	t.Logf("%d kernels checked", len(names))
}

func TestEmulatorInferenceKernels(t *testing.T) {
	emulateInference(t, "deepseek_v3_tiny.deep", "fp8", cpu.FP8, [][]int{{5, 9, 200, 17, 3, 44, 8}, {1, 2, 3}}, [][]int{{5, 9, 200, 17}, {7, 7, 300, 2}})
}

// The zoo's attention and routing forms on the emulator: grouped-query
// attention with rotate-half RoPE and q/k/v biases, tied embeddings
// (qwen2_tiny), multi-query attention with a sliding window shorter than
// the prompts and softmax top-k experts (mixtral_tiny), over their
// key/value caches.
func TestEmulatorZooInferenceKernels(t *testing.T) {
	for _, model := range []string{"qwen2_tiny.deep", "mixtral_tiny.deep"} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			emulateInference(t, model, "bf16", cpu.BF16, [][]int{{5, 9, 200, 17, 3, 44, 8, 9, 10, 11}, {1, 2, 3}}, [][]int{{5, 9, 200, 17, 3, 44, 8, 9, 10}, {7, 7, 300, 2}})
		})
	}
}

// emulateInference runs a model's forward on seqs, then prefills prompts
// and decodes two steps, every launch on the emulator checked against the
// CPU in mode.
func emulateInference(t *testing.T, model, format string, mode cpu.Mode, seqs, prompts [][]int) {
	t.Helper()
	m, programs, params, kernels := modelKernels(t, model, format, true)
	opts := cpu.Options{Mode: mode}
	dev, cmp := emulated(t, kernels, opts)
	ex := device.NewExecutor(cmp, programs)
	defer ex.Close()
	im := &infer.Model{Module: m, Params: params, Opts: opts, Run: ex.Run}
	if _, err := im.Forward(seqs); err != nil {
		t.Fatal(err)
	}
	c, err := im.NewCache(32)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := im.Prefill(c, []int{0, 1}, prompts); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []int{3, 44} {
		if _, err := im.Decode(c, []int{0, 1}, []int{tok, tok + 1}); err != nil {
			t.Fatal(err)
		}
	}
	checkKernels(t, cmp, kernels, programs, "forward", "prefill", "decode")
	t.Logf("%d launches, %d warp instructions emulated", dev.Launches, dev.Instructions)
}

func TestEmulatorTrainKernels(t *testing.T) {
	// The zoo's gradient forms: grouped-query attention_grad with a
	// sliding window, softmax top-k routing (mixtral_tiny).
	for _, c := range []struct {
		model string
		fp8   bool
	}{{"deepseek_v3_tiny.deep", false}, {"deepseek_v3_tiny.deep", true}, {"mixtral_tiny.deep", false}} {
		t.Run(strings.TrimSuffix(c.model, ".deep")+map[bool]string{false: "/bf16", true: "/fp8"}[c.fp8], func(t *testing.T) {
			t.Parallel() // launches of a few blocks leave cores idle
			fp8 := c.fp8
			tr, programs, kernels := trainerKernels(t, c.model, fp8, true)
			dev, cmp := emulated(t, kernels, tr.Opts)
			ex := device.NewExecutor(cmp, programs)
			defer ex.Close()
			tr.Run = ex.Run
			b := train.Batch{Seqs: [][]int{{1, 17, 301, 42, 7, 499, 3, 9}, {3, 3, 250, 9, 120, 64, 5, 8}}}
			if _, err := tr.TakeStep(b, 3e-3); err != nil {
				t.Fatal(err)
			}
			checkKernels(t, cmp, kernels, programs, "train")
			t.Logf("%d launches, %d warp instructions emulated", dev.Launches, dev.Instructions)
		})
	}
}

// mutation is a defect injected into an emitted kernel: the first kernel
// of the forward program whose PTX matches find gets it replaced (or its
// launches changed by launch), and the emulator must flag it with one of
// the kinds (an empty list: the comparison with the CPU must).
type mutation struct {
	name    string
	find    *regexp.Regexp
	replace string
	launch  func(st *program.Step)
	kinds   []emu.Kind
}

var mutations = []mutation{
	// The defect a review found in the attention kernels: a block
	// reduction combining the warp slots of a wider block than it runs.
	{name: "block reduction reads warp slots it never wrote", find: regexp.MustCompile(`\bred256\[`),
		launch: func(st *program.Step) { st.Launch.Threads = 128 }, kinds: []emu.Kind{emu.KindUninitialized}},
	{name: "missing bar.sync between writing and reading the warp slots", find: regexp.MustCompile(`(st\.shared\.f32\s+\[%rd\d+\], %f\d+;\s*\n\$L__BB0_\d+:[^\n]*\n)\s*bar\.sync\s+0;`),
		replace: "$1", kinds: []emu.Kind{emu.KindRace, emu.KindUninitialized}},
	{name: "GEMM tile row bound off by one", find: regexp.MustCompile(`(setp\.gt\.s64\s+%p\d+, %rd\d+, )63;`),
		replace: "${1}64;", kinds: []emu.Kind{emu.KindOutOfBounds}},
	{name: "wgmma descriptor with a wrong leading byte offset", find: regexp.MustCompile(`\b274878431232\b`),
		replace: "274878496768"},
	{name: "missing wgmma.wait_group", find: regexp.MustCompile(`wgmma\.wait_group\.sync\.aligned 0;`),
		replace: "", kinds: []emu.Kind{emu.KindWGMMA}},
	{name: "16-byte shared store at an 8-byte-aligned address", find: regexp.MustCompile(`(st\.shared\.v4\.u32\s+\[%rd\d+)\+8192\]`),
		replace: "${1}+8200]", kinds: []emu.Kind{emu.KindMisaligned}},
}

// Each injected defect is caught, with a report that names the kernel,
// the PTX line, the instruction, the thread and the CTA.
func TestEmulatorFindsInjectedDefects(t *testing.T) {
	m, programs, params, kernels := tinyProgramKernels(t, true)
	inForward := map[string]bool{}
	for _, st := range programs["forward"] {
		inForward[st.Kernel] = true
	}
	seqs := [][]int{{5, 9, 200, 17, 3, 44, 8}, {1, 2, 3}}
	for _, mu := range mutations {
		t.Run(mu.name, func(t *testing.T) {
			t.Parallel()
			var victim *codegen.Kernel
			for _, k := range kernels {
				if inForward[k.Name] && mu.find.MatchString(k.PTX) {
					victim = k
					break
				}
			}
			if victim == nil {
				t.Fatalf("no forward kernel matches %s: the mutation no longer applies to the emitted code", mu.find)
			}
			mutated := make([]*codegen.Kernel, len(kernels))
			for i, k := range kernels {
				mutated[i] = k
				if k == victim && mu.launch == nil {
					c := *k
					c.PTX = mu.find.ReplaceAllString(k.PTX, mu.replace)
					if c.PTX == k.PTX {
						t.Fatal("the mutation changed nothing")
					}
					mutated[i] = &c
				}
			}
			progs := map[string][]program.Step{}
			for g, steps := range programs {
				progs[g] = slices.Clone(steps)
				for i := range progs[g] {
					if mu.launch != nil && progs[g][i].Kernel == victim.Name {
						mu.launch(&progs[g][i])
					}
				}
			}
			opts := cpu.Options{Mode: cpu.FP8}
			_, cmp := emulated(t, mutated, opts)
			ex := device.NewExecutor(cmp, progs)
			defer ex.Close()
			_, err := ex.Run(m.Func("forward"), params, packed(seqs))
			if len(mu.kinds) == 0 {
				kc := cmp.Results[victim.Name]
				if err == nil && kc != nil && kc.Passed(device.Tolerance(kc.DType, victim.MMA == "e4m3")) {
					t.Fatalf("%s: the defect went unnoticed (%+v)", victim.Name, *kc)
				}
				t.Logf("%s: caught: %v (relative error %v)", victim.Name, err, kc)
				return
			}
			var rep *emu.Report
			if !errors.As(err, &rep) {
				t.Fatalf("%s: want a sanitizer report of %v, got %v", victim.Name, mu.kinds, err)
			}
			var f *emu.Finding
			for i := range rep.Findings {
				if slices.Contains(mu.kinds, rep.Findings[i].Kind) {
					f = &rep.Findings[i]
					break
				}
			}
			if f == nil {
				t.Fatalf("%s: want a finding of %v, got:\n%v", victim.Name, mu.kinds, rep)
			}
			msg := f.String()
			for _, want := range []string{victim.Name + ".ptx:", "thread (", "CTA ("} {
				if !strings.Contains(msg, want) {
					t.Errorf("the report does not say %q:\n%s", want, msg)
				}
			}
			t.Logf("caught:\n%s", msg)
		})
	}
}
