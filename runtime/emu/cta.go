package emu

import (
	"fmt"
	"math/bits"
	"sort"
	"strings"
)

// cta is one thread block in execution: its warps, shared memory with the
// sanitizer's shadows, its barriers and warpgroups.
type cta struct {
	l     *launch
	id    [3]uint32
	warps []*warp
	// shared memory and its shadows: init holds the CTA serial of the
	// last write to each byte (never written by this CTA: uninitialised);
	// wEpoch/wWarp the barrier epoch and warp of the last write, rEpoch/
	// rWarp of the last read (rWarp -2: read by several warps in the
	// epoch); async the wgmma group serial whose read of a byte is still
	// pending; fenced whether a generic write was followed by
	// fence.proxy.async.
	shared []byte
	init   []uint32
	wEpoch []uint32
	wWarp  []int16
	rEpoch []uint32
	rWarp  []int16
	pend   []uint32
	wFence []uint32
	serial uint32 // distinguishes CTAs run on this worker
	epoch  uint32 // barrier epoch, increasing across the worker's CTAs
	fences uint32 // fence.proxy.async executed by this CTA (+ base)
	bars   [16]barrier
	groups []*warpgroup
	rng    uint64
	counts []uint64 // instructions executed per PC (profiling)
	// Asynchronous operations in flight, the mbarriers by shared offset,
	// shadows of the shared bytes a copy will write (asyncW) and of
	// mbarrier objects (mbarMem), and the failed mbarrier waits since a
	// phase last completed (spins: an endless spin is a deadlock).
	async   []*asyncOp
	mbars   map[uint64]*mbarrier
	asyncW  []uint32
	asyncR  []uint32
	mbarMem []bool
	spins   int
}

// barrier is one of the CTA's 16 named barriers.
type barrier struct {
	arrived  int // threads arrived
	expected int // threads it waits for (0: every live thread)
	warps    []*warp
	masks    []uint32
	pcs      []int32
}

func (c *cta) live() int {
	n := 0
	for _, w := range c.warps {
		n += bits.OnesCount32(w.exists &^ w.exited)
	}
	return n
}

// arrive records warp w's lanes m at a barrier instruction.
func (c *cta) arrive(w *warp, in *inst, m uint32) {
	id := int(in.aux[0])
	count := int(in.aux[1])
	if in.aux[2] != 0 { // the barrier id is a register
		id = int(w.reg(int32(in.aux[0]))[bits.TrailingZeros32(m)] & 0xffffffff)
	}
	if id < 0 || id >= len(c.bars) {
		w.report(in, m, KindBarrier, "barrier id %d is outside 0..15", id)
		w.blocked &^= m
		return
	}
	b := &c.bars[id]
	if count > 0 {
		if b.expected != 0 && b.expected != count {
			w.report(in, m, KindBarrier, "barrier %d: threads arrive expecting %d and %d threads", id, b.expected, count)
		}
		b.expected = count
	}
	// An aligned barrier counts a warp's live threads when it arrives
	// (they arrive together).
	b.arrived += bits.OnesCount32(w.exists &^ w.exited)
	b.warps = append(b.warps, w)
	b.masks = append(b.masks, m)
	b.pcs = append(b.pcs, w.waitPC)
	c.tryRelease(id)
}

// tryRelease completes barrier id if enough threads arrived.
func (c *cta) tryRelease(id int) {
	b := &c.bars[id]
	if len(b.warps) == 0 {
		return
	}
	want := b.expected
	if want == 0 {
		want = c.live()
	}
	if b.arrived < want {
		return
	}
	pc := b.pcs[0]
	for i, p := range b.pcs {
		if p != pc {
			w := b.warps[i]
			in := &c.l.k.code.insts[p]
			first := &c.l.k.code.insts[pc]
			w.report(in, b.masks[i], KindBarrier, "barrier %d completes with warps waiting at different instructions (line %d and line %d): an aligned barrier must be the same instruction for the whole CTA", id, first.line, in.line)
			break
		}
	}
	for i, w := range b.warps {
		w.blocked &^= b.masks[i]
		w.waitKind = kPlain
	}
	*b = barrier{}
	c.epoch++
}

// exited re-checks the barriers a thread's exit may complete.
func (c *cta) exited(w *warp) {
	for id := range c.bars {
		if c.bars[id].expected == 0 {
			c.tryRelease(id)
		}
	}
}

// groupArrive is warp w reaching a wgmma instruction: the warpgroup's four
// warps execute it together.
func (c *cta) groupArrive(w *warp) {
	g := c.groups[w.id/4]
	for _, o := range g.warps {
		if o.waitKind != kGroup || o.blocked&o.exists != o.exists {
			return // not all there yet
		}
	}
	pc := w.waitPC
	in := &c.l.k.code.insts[pc]
	for _, o := range g.warps {
		if o.waitPC != pc {
			oi := &c.l.k.code.insts[o.waitPC]
			w.report(in, o.exists, KindDivergence, "the warps of warpgroup %d are at different wgmma instructions (line %d and line %d)", w.id/4, in.line, oi.line)
			break
		}
	}
	in.exec(w, in, fullMask)
	for _, o := range g.warps {
		o.blocked &^= o.exists
		o.waitKind = kPlain
	}
}

// next draws from the CTA's generator (splitmix64).
func (c *cta) next() uint64 {
	c.rng += 0x9e3779b97f4a7c15
	z := c.rng
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// execute runs the CTA to completion.
func (c *cta) execute() {
	order := make([]*warp, 0, len(c.warps))
	for {
		order = order[:0]
		for _, w := range c.warps {
			if w.runnable() != 0 {
				order = append(order, w)
			}
		}
		if len(order) == 0 {
			break
		}
		// One warp at a time for a time slice; which one and for how long
		// depend on the seed — and so do the moments copies land.
		w := order[c.next()%uint64(len(order))]
		slice := 1 + int(c.next()%64)
		if !c.l.sanitize && c.l.seed == 0 {
			slice = 4096
		}
		c.land()
		w.run(slice)
		if c.spins > maxSpins {
			c.spinDeadlock(w)
			break
		}
	}
	c.drain(func(*asyncOp) bool { return true })
	c.finish()
}

// maxSpins bounds the failed mbarrier waits of a CTA between two
// completed phases: past it, every thread spins on a phase nothing will
// complete.
const maxSpins = 1 << 16

// spinDeadlock reports the mbarriers a CTA spins on, and stops it.
func (c *cta) spinDeadlock(w *warp) {
	var states []string
	for addr, b := range c.mbars {
		states = append(states, fmt.Sprintf("%s: phase %d, %d of %d arrivals pending, tx-count %d", c.l.k.sharedName(addr), b.phase, b.pending, b.expected, b.tx))
	}
	sort.Strings(states)
	pc := int32(0)
	if len(w.stack) > 0 {
		pc = w.stack[len(w.stack)-1].pc
	}
	in := &c.l.k.code.insts[max(0, min(int(pc), len(c.l.k.code.insts)-1))]
	w.report(in, w.exists, KindDeadlock, "deadlock: %d mbarrier waits failed in a row with no phase completing (a missing arrive, or a wrong expect_tx byte count): %s", c.spins, strings.Join(states, "; "))
	for _, o := range c.warps {
		o.exited = o.exists
	}
}

// finish reports what a CTA left undone: threads still waiting (a
// deadlock) and wgmma operations never waited for.
func (c *cta) finish() {
	var waiting []string
	var where *warp
	for _, w := range c.warps {
		if w.blocked&^w.exited != 0 {
			if where == nil {
				where = w
			}
			in := &c.l.k.code.insts[w.waitPC]
			waiting = append(waiting, fmt.Sprintf("warp %d at line %d (%s)", w.id, in.line, in.op))
		}
	}
	if where != nil {
		var why []string
		for id, b := range c.bars {
			if len(b.warps) > 0 {
				want := b.expected
				if want == 0 {
					want = c.live()
				}
				why = append(why, fmt.Sprintf("barrier %d has %d of %d threads", id, b.arrived, want))
			}
		}
		sort.Strings(why)
		in := &c.l.k.code.insts[where.waitPC]
		where.report(in, where.blocked, KindDeadlock, "deadlock: every live thread waits and none can proceed: %s; %s", strings.Join(waiting, ", "), strings.Join(why, "; "))
	}
	for _, g := range c.groups {
		if len(g.pending) > 0 {
			p := g.pending[0]
			in := &c.l.k.code.insts[p.pc]
			g.warps[0].report(in, fullMask, KindWGMMA, "the kernel ends with %d wgmma.mma_async operations never waited for (wgmma.wait_group): their results are lost", len(g.pending))
		}
	}
}
