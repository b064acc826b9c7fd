package driver

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/deepc-dev/deepc/codegen"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/device"
)

// KernelReport verifies a bundle and prints one line per kernel (name,
// kind, fused ops, registers per thread, shared memory per block, spill
// bytes, launches per graph), then each graph's memory plan at the symbol
// values in bind ("T=4096,C=4096,B=1").
func KernelReport(w io.Writer, dir, bind string) error {
	man, err := openBundle(dir)
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
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "KERNEL\tKIND\tOPS\tMMA\tREGS\tSMEM\tSPILLS\tLAUNCHES\n")
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", k.Name, k.Kind, ops, mma, r.Registers, r.SharedBytes, r.SpillStores+r.SpillLoads, uses[k.Name])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d kernels; target %s; %s; graphs %s\n", len(ks), man.Target, man.PTXAS, strings.Join(graphs, ","))
	return memoryReport(w, dir, man, graphs, bind)
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
		if _, dup := env[k]; dup {
			return fmt.Errorf("--bind %q: %s is bound twice", bind, k)
		}
		if n > device.MaxDim {
			return fmt.Errorf("--bind %s=%d: more than %d (2^40), which no tensor dimension reaches", k, n, int64(device.MaxDim))
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
			return fmt.Errorf("memory plan of %s at %s: %w", g, bind, err)
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
