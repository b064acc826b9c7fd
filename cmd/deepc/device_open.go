package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/deepc-dev/deepc/runtime/emu"
	"github.com/spf13/cobra"
)

// emuOptions are the emulator's flags.
type emuOptions struct {
	sanitize bool
	seed     uint64
	workers  int
	fp8Bits  int
	stats    bool
}

func (o *emuOptions) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.sanitize, "sanitize", true, "--device emu: check every memory access and synchronisation (off: compute only, faster)")
	cmd.Flags().Uint64Var(&o.seed, "emu-seed", 1, "--device emu: the seed of the order in which each block's warps interleave (races show up across seeds)")
	cmd.Flags().IntVar(&o.workers, "emu-workers", 0, "--device emu: thread blocks emulated at once (0: one per core)")
	cmd.Flags().BoolVar(&o.stats, "emu-stats", false, "--device emu: print to stderr, at the end, the launches, warp instructions emulated per second and the slowest kernels")
	cmd.Flags().IntVar(&o.fp8Bits, "emu-fp8-bits", 0, "--device emu: keep only this many mantissa bits of FP8 wgmma accumulators, as Hopper's FP8 tensor cores do (about 14; 0: exact)")
}

func (o emuOptions) String() string {
	san := "sanitizer on"
	if !o.sanitize {
		san = "sanitizer off"
	}
	s := fmt.Sprintf("%s, seed %d", san, o.seed)
	if o.fp8Bits > 0 {
		s += fmt.Sprintf(", FP8 accumulators of %d bits", o.fp8Bits)
	}
	return s
}

// openDevice opens the backend --device names for a bundle's graphs: nil
// for cpu (the bundle's IR runs on the CPU backend), the GPU for cuda, the
// emulator for emu. The graphs in need must have every kernel.
func openDevice(name, dir string, man *bundle.Manifest, need []string, eo emuOptions, log io.Writer) (device.Backend, func(), error) {
	switch name {
	case "cpu":
		return nil, func() {}, nil
	case "cuda":
		gpu, err := openGPU(dir, man, need)
		if err != nil {
			return nil, nil, err
		}
		return gpu, func() { gpu.Dev.Close() }, nil
	case "emu":
		if err := haveKernels("emu", man, need); err != nil {
			return nil, nil, err
		}
		if eo.fp8Bits < 0 || eo.fp8Bits > 23 {
			return nil, nil, fmt.Errorf("--emu-fp8-bits %d: want 0 (exact) to 23", eo.fp8Bits)
		}
		if eo.workers < 0 {
			return nil, nil, fmt.Errorf("--emu-workers %d: want 0 (one per core) or more", eo.workers)
		}
		dev := emu.NewDevice(emu.Options{Sanitize: eo.sanitize, Seed: eo.seed, Workers: eo.workers, FP8AccumBits: eo.fp8Bits})
		start := time.Now()
		if err := dev.LoadBundle(dir, man); err != nil {
			return nil, nil, fmt.Errorf("--device emu: %w", err)
		}
		load := time.Since(start)
		done := func() {}
		if eo.stats {
			done = func() { emuStats(log, dev, load) }
		}
		return dev, done, nil
	}
	return nil, nil, fmt.Errorf("--device %q: cpu, cuda or emu", name)
}

// haveKernels checks that the bundle has the graphs in need, each with a
// kernel for every region.
func haveKernels(devName string, man *bundle.Manifest, need []string) error {
	for _, g := range need {
		if _, ok := man.Graphs[g]; !ok {
			return fmt.Errorf("--device %s: the bundle has no %s program; compile with --graph %s", devName, g, strings.Join(need, ","))
		}
		if n := len(man.Missing[g]); n > 0 {
			return fmt.Errorf("--device %s: the bundle's %s program has %d regions without GPU kernels (see the manifest's \"missing\"); run with --device cpu", devName, g, n)
		}
	}
	return nil
}

// emuStats prints what the emulator did.
func emuStats(w io.Writer, dev *emu.Device, load time.Duration) {
	var total time.Duration
	type kt struct {
		name string
		t    time.Duration
	}
	var ks []kt
	for n, t := range dev.KernelTime {
		total += t
		ks = append(ks, kt{n, t})
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].t > ks[j].t })
	rate := 0.0
	if total > 0 {
		rate = float64(dev.Instructions) / total.Seconds()
	}
	fmt.Fprintf(w, "emu: bundle parsed in %.2f s; %d launches, %d warp instructions in %.2f s of kernels: %.2f M warp instructions/s (each on up to 32 lanes)\n",
		load.Seconds(), dev.Launches, dev.Instructions, total.Seconds(), rate/1e6)
	for _, k := range ks[:min(5, len(ks))] {
		fmt.Fprintf(w, "emu:   %-48s %7.2f s\n", k.name, k.t.Seconds())
	}
}
