package emu

import (
	"encoding/binary"
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
)

// Options configure the emulator.
type Options struct {
	// Sanitize checks every access and synchronisation (bounds, alignment,
	// initialisation, shared-memory races, barriers, undefined registers,
	// wgmma protocol). Off, the emulator only computes.
	Sanitize bool
	// Seed chooses the interleaving of a CTA's warps (and the length of
	// each warp's turn); the same seed gives the same run.
	Seed uint64
	// Workers is how many CTAs run at once (0: one per host core).
	Workers int
	// MaxSteps bounds the instructions one warp may execute (0: 1<<32).
	MaxSteps uint64
	// FP8AccumBits, when positive, keeps only that many mantissa bits of
	// every FP8 wgmma's accumulator (truncated), modelling the limited
	// accumulation precision DeepSeek-V3 §3.3.2 reports for Hopper's FP8
	// tensor cores (about 14 bits); 0 accumulates exactly, rounded to f32.
	FP8AccumBits int
	// MaxFindings bounds the distinct findings kept per launch (0: 50).
	MaxFindings int
	// Profile counts the warp instructions executed per opcode
	// (Device.Profile).
	Profile bool
}

// Hopper's launch limits (docs/ptx-isa-notes.md, "Launch limits").
const (
	maxThreadsPerBlock = 1024
	maxSharedPerBlock  = 227 * 1024
	maxGridX           = 1<<31 - 1
	maxGridYZ          = 65535
	maxRegsPerThread   = 255
)

// launch is one kernel launch in execution.
type launch struct {
	k        *Kernel
	mem      *memory
	grid     [3]uint32
	block    [3]uint32
	shared   int // bytes of the CTA's window: static + dynamic
	params   []byte
	views    []view
	globals  map[string]uint64
	sanitize bool
	seed     uint64
	fp8Bits  int
	maxSteps uint64
	rep      collector
	atomMu   sync.Mutex // serialises global atomics across CTAs
	insts    atomic.Uint64
	profile  bool
	countMu  sync.Mutex
	counts   []uint64 // per instruction, when profiling
}

// LaunchConfig is a kernel launch.
type LaunchConfig struct {
	Grid, Block [3]uint32
	// DynShared is the bytes of dynamic shared memory.
	DynShared int
	// Args are the kernel's parameters in order (pointers and integers,
	// each written in its parameter's size).
	Args []uint64
	// RawArgs, when set, give some parameters as bytes instead (a tensor
	// map from EncodeTiled for a .param .align 64 .b8 p[128]); a nil entry
	// takes Args.
	RawArgs [][]byte
	// Views, when set, are the only global memory the kernel may touch
	// (besides module globals): each tensor argument's bytes, writable
	// only for outputs.
	Views []View
}

// View is a tensor argument's bytes.
type View struct {
	Ptr, Size uint64
	Write     bool
	Name      string
}

// Stats are counts from a launch.
type Stats struct {
	Instructions uint64 // warp instructions executed
	CTAs         int
}

// checkConfig checks a launch against the kernel and Hopper's limits.
func (k *Kernel) checkConfig(cfg *LaunchConfig) error {
	threads := uint64(cfg.Block[0]) * uint64(cfg.Block[1]) * uint64(cfg.Block[2])
	switch {
	case threads == 0:
		return fmt.Errorf("block (%d,%d,%d) has no threads", cfg.Block[0], cfg.Block[1], cfg.Block[2])
	case threads > maxThreadsPerBlock:
		return fmt.Errorf("block (%d,%d,%d) has %d threads; Hopper allows %d", cfg.Block[0], cfg.Block[1], cfg.Block[2], threads, maxThreadsPerBlock)
	case cfg.Block[2] > 64:
		return fmt.Errorf("block z dimension %d exceeds 64", cfg.Block[2])
	case cfg.Grid[0] == 0 || cfg.Grid[1] == 0 || cfg.Grid[2] == 0:
		return fmt.Errorf("grid (%d,%d,%d) is empty", cfg.Grid[0], cfg.Grid[1], cfg.Grid[2])
	case cfg.Grid[0] > maxGridX || cfg.Grid[1] > maxGridYZ || cfg.Grid[2] > maxGridYZ:
		return fmt.Errorf("grid (%d,%d,%d) exceeds Hopper's limits (%d, %d, %d)", cfg.Grid[0], cfg.Grid[1], cfg.Grid[2], maxGridX, maxGridYZ, maxGridYZ)
	case cfg.DynShared < 0 || k.DynOffset+cfg.DynShared > maxSharedPerBlock:
		return fmt.Errorf("%d bytes of static and %d of dynamic shared memory exceed Hopper's %d per block", k.DynOffset, cfg.DynShared, maxSharedPerBlock)
	case len(cfg.Args) != len(k.Params):
		return fmt.Errorf("%d arguments for %d parameters", len(cfg.Args), len(k.Params))
	case len(cfg.RawArgs) > len(k.Params):
		return fmt.Errorf("%d raw arguments for %d parameters", len(cfg.RawArgs), len(k.Params))
	}
	if k.MaxNTID[0] > 0 {
		for d := 0; d < 3; d++ {
			lim := uint32(max(k.MaxNTID[d], 1))
			if cfg.Block[d] > lim || (k.ReqNTID && cfg.Block[d] != lim) {
				return fmt.Errorf("block (%d,%d,%d) does not fit the kernel's .maxntid/.reqntid (%d,%d,%d)", cfg.Block[0], cfg.Block[1], cfg.Block[2], k.MaxNTID[0], k.MaxNTID[1], k.MaxNTID[2])
			}
		}
	}
	if k.usesWGMMA && threads%128 != 0 {
		return fmt.Errorf("the kernel uses wgmma, whose warpgroups are 128 threads; the block has %d", threads)
	}
	return nil
}

// run executes the launch.
func (l *launch) run(workers int) Stats {
	n := int(l.grid[0]) * int(l.grid[1]) * int(l.grid[2])
	if workers <= 0 {
		workers = goruntime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for wk := 0; wk < workers; wk++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := l.newCTA()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if l.rep.count() >= l.rep.limit {
					return // enough findings: stop
				}
				id := [3]uint32{uint32(i) % l.grid[0], uint32(i) / l.grid[0] % l.grid[1], uint32(i) / (l.grid[0] * l.grid[1])}
				l.resetCTA(c, id, uint64(i))
				c.execute()
				if l.profile {
					l.countMu.Lock()
					for i, n := range c.counts {
						l.counts[i] += n
					}
					l.countMu.Unlock()
					clear(c.counts)
				}
				var s uint64
				for _, w := range c.warps {
					s += w.serial
				}
				l.insts.Add(s)
			}
		}()
	}
	wg.Wait()
	return Stats{Instructions: l.insts.Load(), CTAs: n}
}

// newCTA allocates a CTA's state, reused for each CTA a worker runs.
func (l *launch) newCTA() *cta {
	c := &cta{l: l, shared: make([]byte, l.shared)}
	if l.profile {
		c.counts = make([]uint64, len(l.k.code.insts))
	}
	if l.sanitize {
		c.init = make([]uint32, l.shared)
		c.wEpoch = make([]uint32, l.shared)
		c.wWarp = make([]int16, l.shared)
		c.rEpoch = make([]uint32, l.shared)
		c.rWarp = make([]int16, l.shared)
		c.pend = make([]uint32, l.shared)
		c.wFence = make([]uint32, l.shared)
		c.asyncW = make([]uint32, l.shared)
		c.asyncR = make([]uint32, l.shared)
		c.mbarMem = make([]bool, l.shared)
	}
	threads := int(l.block[0] * l.block[1] * l.block[2])
	nw := (threads + warpSize - 1) / warpSize
	nr := l.k.code.nregs
	for i := 0; i < nw; i++ {
		w := &warp{cta: c, id: i, r: make([]uint64, nr*warpSize)}
		if l.sanitize {
			w.def = make([]uint32, nr)
			w.lastW = make([]uint64, nr)
		}
		w.busy = make([]uint8, nr)
		c.warps = append(c.warps, w)
	}
	for g := 0; g*4 < nw; g++ {
		c.groups = append(c.groups, &warpgroup{cta: c, warps: c.warps[g*4 : min(g*4+4, nw)]})
	}
	return c
}

// resetCTA prepares c to run CTA id: registers undefined, constants and
// special registers set, shared memory uninitialised (its contents are
// left from the previous CTA, as on hardware; the shadow says never
// written).
func (l *launch) resetCTA(c *cta, id [3]uint32, serial uint64) {
	c.id = id
	c.serial++
	c.epoch++
	c.fences++
	c.rng = l.seed*0x9e3779b97f4a7c15 ^ serial*0xd1b54a32d192ed03
	c.bars = [16]barrier{}
	c.async = c.async[:0]
	c.mbars = map[uint64]*mbarrier{}
	c.spins = 0
	clear(c.asyncW)
	clear(c.asyncR)
	clear(c.mbarMem)
	threads := int(l.block[0] * l.block[1] * l.block[2])
	cd := l.k.code
	for _, g := range c.groups {
		g.reset()
	}
	for _, w := range c.warps {
		w.exists = 0
		for ln := 0; ln < warpSize; ln++ {
			if w.id*warpSize+ln < threads {
				w.exists |= 1 << ln
			}
		}
		w.exited, w.blocked = 0, 0
		w.yield = false
		w.cpAsync, w.bulkAsync = [warpSize]laneAsync{}, [warpSize]laneAsync{}
		w.lastAlloc, w.spanLo, w.spanHi = nil, 0, 0
		w.stack = append(w.stack[:0], path{pc: 0, rpc: -1, mask: w.exists})
		w.serial, w.lastFence = 0, 0
		w.waitKind = kPlain
		w.nbusy = 0
		clear(w.busy)
		if l.sanitize {
			clear(w.def)
			clear(w.lastW)
		}
		for _, k := range cd.consts {
			v := k.val
			if k.sym != "" {
				v += l.globals[k.sym]
			}
			r := w.reg(k.reg)
			for ln := range r {
				r[ln] = v
			}
			if l.sanitize {
				w.def[k.reg] = fullMask
			}
		}
		for _, s := range cd.specials {
			r := w.reg(s.reg)
			for ln := range r {
				r[ln] = l.special(c, w, ln, s.name)
			}
			if l.sanitize {
				w.def[s.reg] = fullMask
			}
		}
	}
}

// special is a special register's value for a lane.
func (l *launch) special(c *cta, w *warp, lane int, name string) uint64 {
	t := w.threadOf(lane)
	dim := func(v [3]uint32, s string) uint64 {
		switch s[len(s)-1] {
		case 'x':
			return uint64(v[0])
		case 'y':
			return uint64(v[1])
		}
		return uint64(v[2])
	}
	switch name[:len(name)-2] {
	case "%tid":
		return dim(t, name)
	case "%ntid":
		return dim(l.block, name)
	case "%ctaid":
		return dim(c.id, name)
	case "%nctaid":
		return dim(l.grid, name)
	}
	switch name {
	case "%laneid":
		return uint64(lane)
	case "%warpid":
		return uint64(w.id)
	case "%nwarpid":
		return uint64(len(c.warps))
	case "%lanemask_eq":
		return 1 << lane
	case "%lanemask_lt":
		return 1<<lane - 1
	case "%lanemask_le":
		return 1<<(lane+1) - 1
	case "%lanemask_gt":
		return uint64(^uint32(0) << (lane + 1))
	case "%lanemask_ge":
		return uint64(^uint32(0) << lane)
	case "%smid", "%gridid":
		return 0
	case "%dynamic_smem_size":
		return uint64(l.shared - l.k.DynOffset)
	case "%total_smem_size":
		return uint64(l.shared)
	}
	return 0
}

// paramBytes lays the arguments out in the kernel's parameter space.
func (k *Kernel) paramBytes(args []uint64, raw [][]byte) ([]byte, error) {
	b := make([]byte, k.ParamBytes)
	for i, p := range k.Params {
		if i < len(raw) && raw[i] != nil {
			if len(raw[i]) != p.Size {
				return nil, fmt.Errorf("parameter %s is %d bytes, given %d", p.Name, p.Size, len(raw[i]))
			}
			copy(b[p.Offset:], raw[i])
			continue
		}
		var tmp [8]byte
		binary.LittleEndian.PutUint64(tmp[:], args[i])
		copy(b[p.Offset:p.Offset+min(p.Size, 8)], tmp[:])
	}
	return b, nil
}
