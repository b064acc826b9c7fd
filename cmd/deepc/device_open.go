package main

import (
	"github.com/deepc-dev/deepc/driver"
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

// driver is the emulator configuration the flags say.
func (o emuOptions) driver() driver.EmuOptions {
	return driver.EmuOptions{Sanitize: o.sanitize, Seed: o.seed, Workers: o.workers, FP8Bits: o.fp8Bits, Stats: o.stats}
}
