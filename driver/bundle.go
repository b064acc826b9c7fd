package driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/deepc-dev/deepc/codegen"
	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/passes/autodiff"
	"github.com/deepc-dev/deepc/runtime/bundle"
)

// Bundle says what compile --target builds.
type Bundle struct {
	// Module is the planned inference module (passes.KernelPipeline).
	Module *ir.Module
	// Source and File are the model's text and path; Sets its overrides.
	// The manifest's model hash covers Source and Sets; a train graph is
	// compiled again from File.
	Source []byte
	File   string
	Sets   []string
	Out    string
	Target string
	// Graphs are the functions to emit; "train" builds the train program.
	Graphs []string
	// LLC and PTXAS name the tools ("": found as codegen.FindToolchain
	// says); NoPTXAS stops at PTX.
	LLC, PTXAS string
	NoPTXAS    bool
	// TrainFP8 builds the train program with FP8 linears (docs/model.md §5).
	TrainFP8 bool
	NoCache  bool
	// Force replaces whatever is at Out; without it only an empty
	// directory or a bundle deepc wrote is replaced (bundle.Write).
	Force bool
	// Compiler names the compiler in the manifest ("deepc VERSION").
	Compiler string
}

// Build compiles the graphs to kernels and writes the bundle directory;
// progress goes to diag.
func (b *Bundle) Build(diag io.Writer) error {
	if b.Out == "" {
		return fmt.Errorf("--target needs -o DIR (the bundle directory)")
	}
	if b.Target != "sm_90a" {
		return fmt.Errorf("--target %s: deepc emits Hopper kernels (wgmma, FP8 conversions), which need sm_90a", b.Target)
	}
	if err := bundle.CheckOutput(b.Out, b.Force); err != nil {
		return err
	}
	m := b.Module
	units := []codegen.Unit{{Module: m}}
	files := map[string][]byte{"ir/module.ir": []byte(ir.Print(m))}
	for _, g := range b.Graphs {
		if g == "train" {
			tm, err := TrainModule(b.File, b.Sets, b.TrainFP8)
			if err != nil {
				return fmt.Errorf("--graph train: %w", err)
			}
			units = append(units, codegen.Unit{Module: tm, Funcs: []string{"train"}})
			files["ir/train.ir"] = []byte(ir.Print(tm))
			continue
		}
		if m.Func(g) == nil {
			var have []string
			for _, f := range m.Funcs {
				have = append(have, f.Name)
			}
			return fmt.Errorf("--graph %s: no such function (have %s)", g, strings.Join(have, ", "))
		}
		units[0].Funcs = append(units[0].Funcs, g)
	}
	tc, err := codegen.FindToolchain(b.LLC, b.PTXAS, b.Target)
	if err != nil && (tc == nil || !b.NoPTXAS) {
		return err
	}
	start := time.Now()
	ctx := context.Background()
	cache := codegen.DefaultCacheDir()
	if b.NoCache {
		cache = ""
	}
	res, err := codegen.CompileUnits(ctx, units, codegen.Options{Toolchain: tc, NoPTXAS: b.NoPTXAS, CacheDir: cache})
	if err != nil {
		return err
	}
	kernels, err := kernelEntries(res.Kernels, files)
	if err != nil {
		return err
	}
	programs := map[string]json.RawMessage{}
	launches := 0
	for g, steps := range res.Programs {
		raw, err := json.Marshal(steps)
		if err != nil {
			return err
		}
		programs[g] = raw
		launches += len(steps)
	}
	man := &bundle.Manifest{
		Compiler: b.Compiler, Target: tc.Target(), PTXAS: tc.PTXASVersion(ctx),
		Model: m.Name, ModelHash: b.modelHash(), Plugins: m.Attrs["plugins"],
		Graphs: programs, Kernels: kernels, Missing: res.Missing,
	}
	if err := bundle.Write(b.Out, man, files, b.Force); err != nil {
		return err
	}
	fmt.Fprintf(diag, "bundle %s: %d kernels, %d launches in %s for %s in %.1f s\n", b.Out, len(res.Kernels), launches, strings.Join(b.Graphs, ","), man.Target, time.Since(start).Seconds())
	fmt.Fprintf(diag, "run deepc kernels %s for each kernel's registers, shared memory and spills, and each graph's memory plan\n", b.Out)
	if kinds := res.MissingKinds(); len(kinds) > 0 {
		fmt.Fprintf(diag, "regions without a GPU emitter yet (the CPU backend runs them from ir/module.ir): %s\n", strings.Join(kinds, " "))
	}
	return nil
}

// kernelEntries adds each kernel's PTX (and cubin) to files and returns
// the manifest's kernel list naming them.
func kernelEntries(ks []*codegen.Kernel, files map[string][]byte) (json.RawMessage, error) {
	type entry struct {
		*codegen.Kernel
		PTX   string `json:"ptx"`
		Cubin string `json:"cubin,omitempty"`
	}
	var entries []entry
	for _, k := range ks {
		e := entry{Kernel: k, PTX: "kernels/" + k.Name + ".ptx"}
		files[e.PTX] = []byte(k.PTX)
		if len(k.Cubin) > 0 {
			e.Cubin = "kernels/" + k.Name + ".cubin"
			files[e.Cubin] = k.Cubin
		}
		entries = append(entries, e)
	}
	return json.Marshal(entries)
}

// modelHash identifies the model the bundle was compiled from: its source
// and the overrides.
func (b *Bundle) modelHash() string {
	h := sha256.New()
	h.Write(b.Source)
	for _, s := range b.Sets {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TrainModule compiles the model for training (the canonical pipeline,
// then the train program with DeepSeek-V3's hyperparameters), declares the
// trainable fp8 weights as the bf16 the program reads from its f32 masters
// and plans its kernels.
func TrainModule(file string, sets []string, fp8 bool) (*ir.Module, error) {
	m, err := dsl.CompileFile(file, dsl.Options{Sets: sets, ReadFile: models.ReadFile})
	if err != nil {
		return nil, err
	}
	if err := runPipeline(m, passes.CanonicalPipeline); err != nil {
		return nil, err
	}
	opts := autodiff.DeepSeekV3
	opts.FP8 = fp8
	return m, autodiff.TrainKernels(m, opts)
}

func runPipeline(m *ir.Module, spec string) error {
	pl, err := passes.ParsePipeline(spec)
	if err != nil {
		return err
	}
	return passes.Run(&passes.Context{}, m, pl)
}

// BundleModule parses one of a verified bundle's IR files.
func BundleModule(dir, file string) (*ir.Module, error) {
	src, err := bundle.ReadFile(dir, file)
	if err != nil {
		return nil, err
	}
	m, err := ir.Parse(file, string(src))
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	return m, nil
}
