package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/deepc-dev/deepc/codegen"
	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/passes/autodiff"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/spf13/cobra"
)

// bundleFlags are compile's GPU flags.
type bundleFlags struct {
	target   string
	graphs   []string
	llc      string
	ptxas    string
	noPTXAS  bool
	trainFP8 bool
	noCache  bool
}

func (b *bundleFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&b.target, "target", "", "compile GPU kernels for this target (sm_90a) and write a bundle directory to -o")
	fl.StringSliceVar(&b.graphs, "graph", []string{"prefill", "decode"}, "graphs (functions) to put in the bundle: forward, prefill, decode, mtp, mtp_prefill, mtp_decode, train")
	fl.StringVar(&b.llc, "llc", "", "llc of LLVM >= 17 (default: $DEEPC_LLC, llc-19 on PATH)")
	fl.StringVar(&b.ptxas, "ptxas", "", "ptxas (default: $DEEPC_PTXAS, .cache/cuda-12.4/bin, PATH)")
	fl.BoolVar(&b.noPTXAS, "no-ptxas", false, "stop at PTX (no cubins, no resource report)")
	fl.BoolVar(&b.trainFP8, "train-fp8", true, "--graph train: FP8 training (docs/model.md §5) rather than BF16")
	fl.BoolVar(&b.noCache, "no-cache", false, "run llc and ptxas on every kernel even when the kernel cache has it ($DEEPC_CACHE: a directory, or off)")
}

// bundlePipeline is what compile --target runs unless --passes is given.
const bundlePipeline = inferencePipeline + ",plan-kernels"

// writeBundle compiles the planned module's graphs to kernels and writes
// the bundle directory.
func (b *bundleFlags) writeBundle(m *ir.Module, source []byte, file string, sets []string, out string, diag io.Writer) error {
	if out == "" {
		return fmt.Errorf("--target needs -o DIR (the bundle directory)")
	}
	if b.target != "sm_90a" {
		return fmt.Errorf("--target %s: deepc emits Hopper kernels (wgmma, FP8 conversions), which need sm_90a", b.target)
	}
	var graphs []string
	var trainM *ir.Module
	for _, g := range b.graphs {
		if g == "train" {
			var err error
			if trainM, err = trainModule(file, sets, b.trainFP8); err != nil {
				return fmt.Errorf("--graph train: %w", err)
			}
			continue
		}
		graphs = append(graphs, g)
		if m.Func(g) == nil {
			var have []string
			for _, f := range m.Funcs {
				have = append(have, f.Name)
			}
			return fmt.Errorf("--graph %s: no such function (have %s)", g, strings.Join(have, ", "))
		}
	}
	tc, err := codegen.FindToolchain(b.llc, b.ptxas, b.target)
	if err != nil && (tc == nil || !b.noPTXAS) {
		return err
	}
	start := time.Now()
	ctx := context.Background()
	modules := []codegen.Unit{{Module: m, Funcs: graphs}}
	files := map[string][]byte{"ir/module.ir": []byte(ir.Print(m))}
	if trainM != nil {
		modules = append(modules, codegen.Unit{Module: trainM, Funcs: []string{"train"}})
		files["ir/train.ir"] = []byte(ir.Print(trainM))
	}
	cache := codegen.DefaultCacheDir()
	if b.noCache {
		cache = ""
	}
	res, err := codegen.CompileUnits(ctx, modules, codegen.Options{Toolchain: tc, NoPTXAS: b.noPTXAS, CacheDir: cache})
	if err != nil {
		return err
	}
	type kernelEntry struct {
		*codegen.Kernel
		PTX   string `json:"ptx"`
		Cubin string `json:"cubin,omitempty"`
	}
	var entries []kernelEntry
	for _, k := range res.Kernels {
		e := kernelEntry{Kernel: k, PTX: "kernels/" + k.Name + ".ptx"}
		files[e.PTX] = []byte(k.PTX)
		if len(k.Cubin) > 0 {
			e.Cubin = "kernels/" + k.Name + ".cubin"
			files[e.Cubin] = k.Cubin
		}
		entries = append(entries, e)
	}
	kernels, err := json.Marshal(entries)
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
	h := sha256.New()
	h.Write(source)
	for _, s := range sets {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	man := &bundle.Manifest{
		Compiler: "deepc " + version, Target: tc.Target(), PTXAS: tc.PTXASVersion(ctx),
		Model: m.Name, ModelHash: hex.EncodeToString(h.Sum(nil)), Plugins: m.Attrs["plugins"],
		Graphs: programs, Kernels: kernels, Missing: res.Missing,
	}
	if err := bundle.Write(out, man, files); err != nil {
		return err
	}
	fmt.Fprintf(diag, "bundle %s: %d kernels, %d launches in %s for %s in %.1f s\n", out, len(res.Kernels), launches, strings.Join(b.graphs, ","), man.Target, time.Since(start).Seconds())
	fmt.Fprintf(diag, "run deepc kernels %s for each kernel's registers, shared memory and spills, and each graph's memory plan\n", out)
	if kinds := res.MissingKinds(); len(kinds) > 0 {
		fmt.Fprintf(diag, "regions without a GPU emitter yet (the CPU backend runs them from ir/module.ir): %s\n", strings.Join(kinds, " "))
	}
	return nil
}

func newKernelsCmd() *cobra.Command {
	var bind string
	cmd := &cobra.Command{
		Use:   "kernels BUNDLE",
		Short: "List a bundle's kernels with their resources (registers, shared memory, spills)",
		Long: `kernels verifies a bundle (as deepc bundle verify does) and prints one line per
kernel: name, kind, fused ops, registers per thread, shared memory per block,
spill bytes, and how many launches of it each graph makes. Then, per graph,
the memory plan for the symbols in --bind: the arena that holds every
tensor the kernels write (laid out by liveness), against one allocation per
tensor.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			man, err := bundle.Open(args[0], "")
			if err != nil {
				return err
			}
			var ks []struct {
				Name      string            `json:"name"`
				Kind      string            `json:"kind"`
				Ops       []string          `json:"ops"`
				Resources codegen.Resources `json:"resources"`
				MMA       string            `json:"mma"`
			}
			if err := json.Unmarshal(man.Kernels, &ks); err != nil {
				return fmt.Errorf("manifest kernels: %v", err)
			}
			uses := map[string]int{}
			var graphs []string
			for g, raw := range man.Graphs {
				graphs = append(graphs, g)
				var steps []program.Step
				if err := json.Unmarshal(raw, &steps); err != nil {
					return fmt.Errorf("manifest graph %s: %v", g, err)
				}
				for _, s := range steps {
					uses[s.Kernel]++
				}
			}
			slices.Sort(graphs)
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 8, 2, ' ', 0)
			fmt.Fprintf(w, "KERNEL\tKIND\tOPS\tMMA\tREGS\tSMEM\tSPILLS\tLAUNCHES\n")
			for _, k := range ks {
				r := k.Resources
				ops := strings.Join(k.Ops, ",")
				if len(ops) > 40 {
					ops = fmt.Sprintf("%s… (%d ops)", ops[:36], len(k.Ops))
				}
				mma := k.MMA
				if mma == "" {
					mma = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", k.Name, k.Kind, ops, mma, r.Registers, r.SharedBytes, r.SpillStores+r.SpillLoads, uses[k.Name])
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d kernels; target %s; %s; graphs %s\n", len(ks), man.Target, man.PTXAS, strings.Join(graphs, ","))
			return memoryReport(cmd.OutOrStdout(), args[0], man, graphs, bind)
		},
	}
	cmd.Flags().StringVar(&bind, "bind", "T=4096,C=4096,B=1", "symbol values for the memory plan")
	return cmd
}

// memoryReport prints each graph's memory plan for the bound symbols.
func memoryReport(w io.Writer, dir string, man *bundle.Manifest, graphs []string, bind string) error {
	env := map[string]int64{}
	for _, kv := range strings.Split(bind, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil || n < 0 {
			return fmt.Errorf("--bind %q: want SYM=N,...", bind)
		}
		env[k] = n
	}
	programs, err := device.Programs(man)
	if err != nil {
		return err
	}
	modules := map[string]*ir.Module{}
	for _, file := range []string{"ir/module.ir", "ir/train.ir"} {
		if _, ok := man.Files[file]; !ok {
			continue
		}
		src, err := bundle.ReadFile(dir, file)
		if err != nil {
			return err
		}
		if modules[file], err = ir.Parse(file, string(src)); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "memory plan at %s:\n", bind)
	for _, g := range graphs {
		var f *ir.Func
		for _, m := range modules {
			if f = m.Func(g); f != nil {
				break
			}
		}
		if f == nil {
			continue
		}
		p, err := device.PlanMemory(f, programs[g], env)
		if err != nil {
			fmt.Fprintf(w, "  %s: %v\n", g, err)
			continue
		}
		fmt.Fprintf(w, "  %s: arena %s for %d tensors (%s without reuse, %.1fx)\n", g, bytesHuman(p.Peak), len(p.Slots), bytesHuman(p.Total), float64(p.Total)/float64(max(p.Peak, 1)))
	}
	return nil
}

func bytesHuman(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

func newBundleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "Work with kernel bundles (see deepc compile --target)"}
	var target string
	verify := &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Check a bundle: format version, target, every file's SHA-256, no missing or extra files",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			man, err := bundle.Open(args[0], target)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (format %d, %s, target %s, %d files verified)\n", args[0], man.FormatVersion, man.Compiler, man.Target, len(man.Files))
			return nil
		},
	}
	verify.Flags().StringVar(&target, "target", "", "also require this target (e.g. sm_90a)")
	cmd.AddCommand(verify)
	return cmd
}

// trainModule compiles the model for training (the grad pipeline, then the
// train program with the small preset's hyperparameters), declares the
// trainable fp8 weights as the bf16 the program reads from its f32 masters
// (master-weights) and plans its kernels.
func trainModule(file string, sets []string, fp8 bool) (*ir.Module, error) {
	m, err := dsl.CompileFile(file, dsl.Options{Sets: sets, ReadFile: models.ReadFile})
	if err != nil {
		return nil, err
	}
	pl, err := passes.ParsePipeline(gradPipeline)
	if err != nil {
		return nil, err
	}
	if err := passes.Run(&passes.Context{}, m, pl); err != nil {
		return nil, err
	}
	opts := presets["small"]
	opts.FP8 = fp8
	if _, err := autodiff.Train(m, opts); err != nil {
		return nil, err
	}
	pl, err = passes.ParsePipeline("master-weights,plan-kernels")
	if err != nil {
		return nil, err
	}
	return m, passes.Run(&passes.Context{}, m, pl)
}
