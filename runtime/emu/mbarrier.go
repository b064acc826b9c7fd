package emu

import (
	"fmt"
	"math/bits"
)

// mbarrier objects (docs/ptx-isa-notes.md §11.1): eight bytes of shared
// memory holding a phase, the arrivals pending in it and a tx-count of
// bytes that asynchronous copies have yet to complete; the phase completes
// when both reach zero. Each operation has its own builder, looked up by
// the operation's modifier.

func init() {
	builders["mbarrier"] = buildMbarrier
}

// mbarrier is the state of an mbarrier object (§11.1).
type mbarrier struct {
	phase    uint32
	pending  int32
	expected int32
	tx       int32
}

const mbarMax = 1<<20 - 1

// maybeComplete advances the phase when nothing is pending. A completed
// phase orders what its participants did before arriving with what its
// waiters do after: for the race detector it starts a new epoch, as a
// barrier does (coarse: it also orders warps that did not take part).
func (c *cta) maybeComplete(b *mbarrier) {
	if b.pending == 0 && b.tx == 0 {
		b.phase++
		b.pending = b.expected
		c.spins = 0
		c.epoch++
	}
}

// arriveOn is the ISA's arrive-on operation with count n.
func (c *cta) arriveOn(w *warp, in *inst, lane int, b *mbarrier, n uint32) {
	if n < 1 || n > mbarMax {
		w.report(in, 1<<lane, KindAsync, "mbarrier arrive count %d is outside 1..2^20-1", n)
		return
	}
	if int64(n) > int64(b.pending) {
		w.report(in, 1<<lane, KindAsync, "mbarrier arrive of %d with %d arrivals pending in the phase: more threads arrive than the barrier was initialised for", n, b.pending)
		b.pending = int32(n)
	}
	b.pending -= int32(n)
	c.maybeComplete(b)
}

// mbarAt finds the mbarrier at a lane's shared address (the state space
// of the instruction, or generic), reporting what is wrong.
func (w *warp) mbarAt(in *inst, lane int, addr uint64) (*mbarrier, uint64, bool) {
	if in.space == spGeneric {
		if addr < sharedWindow || addr >= sharedWindow+1<<32 {
			w.report(in, 1<<lane, KindAsync, "mbarrier address %#x is not in shared memory", addr)
			return nil, 0, false
		}
		addr -= sharedWindow
	}
	c := w.cta
	if addr%8 != 0 || addr+8 > uint64(len(c.shared)) {
		w.report(in, 1<<lane, KindMisaligned, "mbarrier at shared offset %#x: must be 8-byte aligned and inside the CTA's %d bytes", addr, len(c.shared))
		return nil, 0, false
	}
	return c.mbars[addr], addr, true
}

// liveMbar is mbarAt for operations that need an initialized mbarrier:
// it reports what ran on an address holding none.
func (w *warp) liveMbar(in *inst, lane int, addr uint64, what string) (*mbarrier, uint64, bool) {
	b, a, ok := w.mbarAt(in, lane, addr)
	if ok && b == nil {
		w.report(in, 1<<lane, KindAsync, "%s at shared offset %#x: no mbarrier there (mbarrier.init first)", what, a)
		return nil, a, false
	}
	return b, a, ok
}

// mbarState encodes an arrive's result (§11.1.4): bit 63 set, the phase
// before the arrive in bits 62:32, bit 31 for .noComplete, the object's
// address/8 (low 11 bits) in 30:20, the pending count before in 19:0.
func mbarState(b *mbarrier, addr uint64, noComplete bool, pending int32) uint64 {
	s := uint64(1)<<63 | uint64(b.phase&0x7fffffff)<<32 | (addr/8&0x7ff)<<20 | uint64(pending)&0xfffff
	if noComplete {
		s |= 1 << 31
	}
	return s
}

// mbarForm is an mbarrier instruction's operation and the modifiers that
// change what it does.
type mbarForm struct {
	op         string
	parity     bool // test_wait/try_wait of a phase parity, not a state
	expect     bool // arrive.expect_tx: an expect-tx of the count, then an arrive of 1
	noComplete bool // arrive.noComplete: the arrive must not complete the phase
}

// mbarOps decodes each mbarrier operation's operands and sets its exec;
// the operation is the modifier the table is keyed by.
var mbarOps = map[string]func(d *decoder, in *inst, f mbarForm, args []string) error{
	"init":          buildMbarInit,
	"inval":         buildMbarInval,
	"arrive":        buildMbarArrive,
	"arrive_drop":   buildMbarArrive,
	"expect_tx":     buildMbarTx,
	"complete_tx":   buildMbarTx,
	"test_wait":     buildMbarWait,
	"try_wait":      buildMbarWait,
	"pending_count": buildMbarPendingCount,
}

func buildMbarrier(d *decoder, in *inst, o *opc, args []string) error {
	var f mbarForm
	for _, m := range o.order {
		if _, isOp := mbarOps[m]; isOp {
			if f.op == "" {
				f.op = m
			} else if m == "expect_tx" && (f.op == "arrive" || f.op == "arrive_drop") {
				f.expect = true
			} else {
				return fmt.Errorf("two operations")
			}
			continue
		}
		switch m {
		case "parity":
			f.parity = true
		case "noComplete":
			f.noComplete = true
		case "release", "relaxed", "acquire", "cta", "shared", "shared::cta":
		case "cluster", "shared::cluster":
			return fmt.Errorf("cluster scope is not implemented (no clusters)")
		default:
			return fmt.Errorf("modifier .%s is not implemented", m)
		}
	}
	if _, err := oneType(o, tB64); err != nil || f.op == "" {
		return fmt.Errorf("want mbarrier.<operation>...b64")
	}
	sp, err := asyncSpace(o)
	if err != nil {
		return err
	}
	in.space = sp
	return mbarOps[f.op](d, in, f, args)
}

// mbarMem decodes the mbarrier's address operand in the instruction's
// state space.
func mbarMem(d *decoder, in *inst, a string) error {
	var err error
	in.addr, in.off, err = d.mem(a, in.space)
	return err
}

// mbarMemCount decodes the "[addr], count" operand pair of init, expect_tx
// and complete_tx.
func mbarMemCount(d *decoder, in *inst, args []string) error {
	if err := need(args, 2); err != nil {
		return err
	}
	if err := mbarMem(d, in, args[0]); err != nil {
		return err
	}
	c, err := d.src(args[1], tU32)
	in.src = []int32{c}
	return err
}

// buildMbarInit: mbarrier.init [addr], count. Initialising a live
// mbarrier is reported: its waiters would see their phase vanish.
func buildMbarInit(d *decoder, in *inst, _ mbarForm, args []string) error {
	if err := mbarMemCount(d, in, args); err != nil {
		return err
	}
	in.exec = func(w *warp, in *inst, m uint32) {
		base, cv := w.reg(in.addr), w.reg(in.src[0])
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			b, addr, ok := w.mbarAt(in, l, base[l]+uint64(in.off))
			if !ok {
				continue
			}
			n := uint32(cv[l])
			if n < 1 || n > mbarMax {
				w.report(in, 1<<l, KindAsync, "mbarrier.init count %d is outside 1..2^20-1", n)
				continue
			}
			if b != nil {
				w.report(in, 1<<l, KindAsync, "mbarrier.init on a live mbarrier at shared offset %#x (mbarrier.inval it first)", addr)
			}
			c := w.cta
			c.mbars[addr] = &mbarrier{pending: int32(n), expected: int32(n)}
			c.markMbar(addr, true)
		}
	}
	return nil
}

// buildMbarInval: mbarrier.inval [addr]; the bytes become ordinary shared
// memory again.
func buildMbarInval(d *decoder, in *inst, _ mbarForm, args []string) error {
	if err := need(args, 1); err != nil {
		return err
	}
	if err := mbarMem(d, in, args[0]); err != nil {
		return err
	}
	in.exec = func(w *warp, in *inst, m uint32) {
		base := w.reg(in.addr)
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			_, addr, ok := w.liveMbar(in, l, base[l]+uint64(in.off), "mbarrier.inval")
			if !ok {
				continue
			}
			delete(w.cta.mbars, addr)
			w.cta.markMbar(addr, false)
		}
	}
	return nil
}

// buildMbarArrive: mbarrier.arrive and arrive_drop, state, [addr] and an
// optional count; .expect_tx adds the count to the tx-count first, and
// arrive_drop also lowers the arrivals later phases expect.
func buildMbarArrive(d *decoder, in *inst, f mbarForm, args []string) error {
	op, expect, noComplete := f.op, f.expect, f.noComplete
	if len(args) != 2 && len(args) != 3 {
		return fmt.Errorf("%d operands", len(args))
	}
	r, err := d.dst(args[0])
	if err != nil {
		return err
	}
	in.dst = []int32{r}
	if err := mbarMem(d, in, args[1]); err != nil {
		return err
	}
	if len(args) == 3 {
		c, err := d.src(args[2], tU32)
		if err != nil {
			return err
		}
		in.src = []int32{c}
	} else if expect || noComplete {
		return fmt.Errorf("the .expect_tx and .noComplete forms take a count")
	}
	drop := op == "arrive_drop"
	in.exec = func(w *warp, in *inst, m uint32) {
		base := w.reg(in.addr)
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			b, addr, ok := w.liveMbar(in, l, base[l]+uint64(in.off), "mbarrier."+op)
			if !ok {
				continue
			}
			n := uint32(1)
			if len(in.src) == 1 {
				n = uint32(w.reg(in.src[0])[l])
			}
			c := w.cta
			if expect { // expect-tx of n bytes, then an arrive of 1
				if int64(b.tx)+int64(n) > mbarMax {
					w.report(in, 1<<l, KindAsync, "expect_tx of %d bytes takes the tx-count above 2^20-1", n)
				}
				b.tx += int32(n)
				n = 1
			}
			if in.dst[0] >= 0 {
				w.reg(in.dst[0])[l] = mbarState(b, addr, noComplete, b.pending)
			}
			if drop {
				b.expected -= int32(n)
				if b.expected < 1 {
					w.report(in, 1<<l, KindAsync, "mbarrier.arrive_drop leaves the mbarrier expecting %d arrivals (at least 1)", b.expected)
				}
			}
			phase := b.phase
			c.arriveOn(w, in, l, b, n)
			if noComplete && b.phase != phase {
				w.report(in, 1<<l, KindAsync, "an arrive.noComplete completed the phase")
			}
		}
	}
	return nil
}

// buildMbarTx: mbarrier.expect_tx and complete_tx [addr], count move the
// tx-count up or down; only a complete_tx can complete the phase.
func buildMbarTx(d *decoder, in *inst, f mbarForm, args []string) error {
	op := f.op
	if err := mbarMemCount(d, in, args); err != nil {
		return err
	}
	in.exec = func(w *warp, in *inst, m uint32) {
		base := w.reg(in.addr)
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			b, _, ok := w.liveMbar(in, l, base[l]+uint64(in.off), "mbarrier."+op)
			if !ok {
				continue
			}
			n := int64(uint32(w.reg(in.src[0])[l]))
			if op == "complete_tx" {
				n = -n
			}
			if t := int64(b.tx) + n; t > mbarMax || t < -mbarMax {
				w.report(in, 1<<l, KindAsync, "mbarrier.%s takes the tx-count to %d, outside ±(2^20-1)", op, t)
			}
			b.tx += int32(n)
			if op == "complete_tx" {
				w.cta.maybeComplete(b)
			}
		}
	}
	return nil
}

// buildMbarWait: mbarrier.test_wait and try_wait, waitComplete, [addr],
// state or parity (try_wait may add a time limit, which the emulator does
// not need). A wait that fails yields the warp so that the threads that
// will arrive can run.
func buildMbarWait(d *decoder, in *inst, f mbarForm, args []string) error {
	op, parity := f.op, f.parity
	if len(args) != 3 && !(op == "try_wait" && len(args) == 4) {
		return fmt.Errorf("%d operands", len(args))
	}
	p, err := d.dst(args[0])
	if err != nil {
		return err
	}
	in.dst = []int32{p}
	if err := mbarMem(d, in, args[1]); err != nil {
		return err
	}
	v, err := d.src(args[2], tU64)
	if err != nil {
		return err
	}
	in.src = []int32{v}
	in.exec = func(w *warp, in *inst, m uint32) {
		base, sv := w.reg(in.addr), w.reg(in.src[0])
		c := w.cta
		failed := false
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			b, addr, ok := w.liveMbar(in, l, base[l]+uint64(in.off), "mbarrier."+op)
			if !ok {
				continue
			}
			done := waitDone(w, in, l, b, addr, sv[l], parity)
			if !done {
				// The copies this phase waits for finish now (lazily).
				c.drain(func(o *asyncOp) bool { return o.mbar == int64(addr) })
				done = waitDone(w, in, l, b, addr, sv[l], parity)
			}
			if in.dst[0] >= 0 {
				w.reg(in.dst[0])[l] = b2u(done)
			}
			failed = failed || !done
		}
		if failed {
			w.yield = true // let the threads that will arrive run
			c.spins++
		}
	}
	return nil
}

// buildMbarPendingCount: mbarrier.pending_count count, state reads the
// pending count an arrive.noComplete recorded in its state.
func buildMbarPendingCount(d *decoder, in *inst, _ mbarForm, args []string) error {
	if err := need(args, 2); err != nil {
		return err
	}
	r, err := d.dst(args[0])
	if err != nil {
		return err
	}
	v, err := d.src(args[1], tU64)
	if err != nil {
		return err
	}
	in.dst, in.src = []int32{r}, []int32{v}
	in.exec = func(w *warp, in *inst, m uint32) {
		sv, dd := w.reg(in.src[0]), w.reg(in.dst[0])
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			if sv[l]>>63 == 0 || sv[l]>>31&1 == 0 {
				w.report(in, 1<<l, KindAsync, "mbarrier.pending_count of a state that no .noComplete arrive produced")
			}
			dd[l] = sv[l] & 0xfffff
		}
	}
	return nil
}

// waitDone is a test_wait/try_wait of a state or a parity.
func waitDone(w *warp, in *inst, lane int, b *mbarrier, addr, v uint64, parity bool) bool {
	if parity {
		if v > 1 {
			w.report(in, 1<<lane, KindAsync, "mbarrier wait with phaseParity %d (0 or 1)", v)
		}
		return uint32(v)&1 != b.phase&1
	}
	if v>>63 == 0 || v>>20&0x7ff != addr/8&0x7ff {
		w.report(in, 1<<lane, KindAsync, "mbarrier wait with a state that no arrive on this mbarrier produced")
		return true
	}
	ph, cur := uint32(v>>32)&0x7fffffff, b.phase&0x7fffffff
	switch {
	case ph == cur:
		return false
	case (ph+1)&0x7fffffff == cur:
		return true
	}
	w.report(in, 1<<lane, KindAsync, "mbarrier wait with a state older than the preceding phase")
	return true
}

// markMbar flags (or unflags) the 8 bytes of an mbarrier, which ordinary
// accesses must not touch.
func (c *cta) markMbar(addr uint64, on bool) {
	if c.mbarMem == nil {
		return
	}
	for i := addr; i < addr+8; i++ {
		c.mbarMem[i] = on
		if on {
			c.init[i] = c.serial
		}
	}
}
