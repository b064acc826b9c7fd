package main

import (
	"fmt"
	"io"
	"strings"

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
}

func (o *emuOptions) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.sanitize, "sanitize", true, "--device emu: check every memory access and synchronisation (off: compute only, faster)")
	cmd.Flags().Uint64Var(&o.seed, "emu-seed", 1, "--device emu: the seed of the order in which each block's warps interleave (races show up across seeds)")
	cmd.Flags().IntVar(&o.workers, "emu-workers", 0, "--device emu: thread blocks emulated at once (0: one per core)")
}

func (o emuOptions) String() string {
	san := "sanitizer on"
	if !o.sanitize {
		san = "sanitizer off"
	}
	return fmt.Sprintf("%s, seed %d", san, o.seed)
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
		dev := emu.NewDevice(emu.Options{Sanitize: eo.sanitize, Seed: eo.seed, Workers: eo.workers})
		if err := dev.LoadBundle(dir, man); err != nil {
			return nil, nil, fmt.Errorf("--device emu: %w", err)
		}
		return dev, func() {}, nil
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
