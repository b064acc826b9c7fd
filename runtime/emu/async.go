package emu

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
)

// Asynchronous operations (docs/ptx-isa-notes.md §11.0): cp.async, bulk
// and tensor copies are queued when issued and performed lazily — when a
// wait covers them (a group wait, or an mbarrier wait on the phase they
// complete), at a moment the CTA's seeded generator picks, or when the CTA
// ends. Until then the shared bytes they will write are marked in flight:
// an ordinary access to them is reported (reading a copy's destination
// before waiting for it is undefined), and so is writing a bulk copy's
// shared source. A copy's source is read when it is performed.

// asyncOp is a queued asynchronous operation.
type asyncOp struct {
	w       *warp // the issuing thread, for reports
	in      *inst
	lane    int
	perform func()
	// mbar is the shared address of the mbarrier it completes (a
	// complete-tx of tx bytes, or an arrive when arrive is set), or -1.
	mbar   int64
	tx     uint32
	arrive bool
	// dst marks the shared bytes it writes as in flight; src the shared
	// bytes it reads.
	dst, src [2]uint64
	done     bool
}

// laneAsync is one thread's async-groups: uncommitted operations and the
// committed groups, oldest first.
type laneAsync struct {
	uncommitted []*asyncOp
	groups      [][]*asyncOp
}

// mbarrier is the state of an mbarrier object (§11.1).
type mbarrier struct {
	phase    uint32
	pending  int32
	expected int32
	tx       int32
}

const mbarMax = 1<<20 - 1

// queue adds an operation and marks its ranges.
func (c *cta) queue(op *asyncOp) {
	c.async = append(c.async, op)
	if c.asyncW != nil {
		for i := op.dst[0]; i < op.dst[1]; i++ {
			c.asyncW[i]++
		}
		for i := op.src[0]; i < op.src[1]; i++ {
			c.asyncR[i]++
		}
	}
}

// complete performs an operation (once) and its completion action.
func (c *cta) complete(op *asyncOp) {
	if op.done {
		return
	}
	op.done = true
	if c.asyncW != nil {
		for i := op.dst[0]; i < op.dst[1]; i++ {
			c.asyncW[i]--
		}
		for i := op.src[0]; i < op.src[1]; i++ {
			c.asyncR[i]--
		}
	}
	if op.perform != nil {
		op.perform()
	}
	if op.mbar >= 0 {
		b := c.mbars[uint64(op.mbar)]
		if b == nil {
			op.w.report(op.in, 1<<op.lane, KindAsync, "the copy completes on the mbarrier at shared offset %#x, which is not initialised", op.mbar)
			return
		}
		switch {
		case op.arrive:
			c.arriveOn(op.w, op.in, op.lane, b, 1)
		default:
			if int64(b.tx)-int64(op.tx) < -mbarMax {
				op.w.report(op.in, 1<<op.lane, KindAsync, "complete_tx of %d bytes takes the mbarrier's tx-count below -(2^20-1)", op.tx)
			}
			b.tx -= int32(op.tx)
			c.maybeComplete(b)
		}
	}
}

// drain completes the queued operations that match keep, in issue order,
// and drops every completed one from the queue.
func (c *cta) drain(keep func(*asyncOp) bool) {
	for _, op := range c.async {
		if !op.done && keep(op) {
			c.complete(op)
		}
	}
	rest := c.async[:0]
	for _, op := range c.async {
		if !op.done {
			rest = append(rest, op)
		}
	}
	c.async = rest
}

// land completes one queued operation when the seeded generator says so:
// copies finish at moments that change with the seed.
func (c *cta) land() {
	if len(c.async) == 0 || c.next()%4 != 0 {
		return
	}
	op := c.async[c.next()%uint64(len(c.async))]
	c.drain(func(o *asyncOp) bool { return o == op })
}

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

func init() {
	builders["mbarrier"] = buildMbarrier
	builders["cp"] = buildCp
}

// mbarrierSpace reads an instruction's shared-space qualifier (none:
// generic addressing).
func asyncSpace(o *opc) (space, error) {
	for _, m := range o.order {
		switch m {
		case "shared", "shared::cta":
			return spShared, nil
		case "shared::cluster":
			return spShared, fmt.Errorf(".shared::cluster (clusters) is not implemented")
		}
	}
	return spGeneric, nil
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

// buildCp: the cp.async family.
func buildCp(d *decoder, in *inst, o *opc, args []string) error {
	if !o.has("async") {
		return fmt.Errorf("%s is not implemented", o.text)
	}
	switch {
	case o.has("bulk") && o.has("tensor"):
		return buildTensorCopy(d, in, o, args)
	case o.has("bulk") && o.has("prefetch"):
		return buildPrefetch(d, in, o, args)
	case o.has("bulk") && (o.has("commit_group") || o.has("wait_group")):
		return buildGroupOp(d, in, o, args, true)
	case o.has("bulk"):
		return buildBulkCopy(d, in, o, args)
	case o.has("mbarrier") && o.has("arrive"):
		return buildCpAsyncArrive(d, in, o, args)
	case o.has("commit_group") || o.has("wait_group") || o.has("wait_all"):
		return buildGroupOp(d, in, o, args, false)
	}
	return buildCpAsync(d, in, o, args)
}

// only lists the modifiers an operation accepts beyond its own, cache
// hints included (they change nothing here).
func onlyWithHints(o *opc, allowed ...string) error {
	for m := range o.mods {
		if strings.HasPrefix(m, "L2::") || m == "async" || m == "cp" {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || m == a
		}
		if !ok {
			return fmt.Errorf("modifier .%s is not implemented", m)
		}
	}
	return nil
}

// buildCpAsync: cp.async.{ca,cg}.shared{::cta}.global [dst], [src],
// cp-size{, src-size | ignore-src}: cp-size bytes (4, 8, 16; .cg only 16)
// written to dst, src-size of them read from src and the rest zero.
func buildCpAsync(d *decoder, in *inst, o *opc, args []string) error {
	if err := onlyWithHints(o, "ca", "cg", "shared", "shared::cta", "global"); err != nil {
		return err
	}
	if o.has("ca") == o.has("cg") || !o.has("global") || !(o.has("shared") || o.has("shared::cta")) {
		return fmt.Errorf("want cp.async.{ca,cg}.shared.global")
	}
	if len(args) < 3 || len(args) > 5 {
		return fmt.Errorf("%d operands", len(args))
	}
	dr, doff, err := d.mem(args[0], spShared)
	if err != nil {
		return err
	}
	sr, soff, err := d.mem(args[1], spGlobal)
	if err != nil {
		return err
	}
	size, err := parseIntLit(args[2])
	if err != nil || (size != 4 && size != 8 && size != 16) || o.has("cg") && size != 16 {
		return fmt.Errorf("cp-size %s: 4, 8 or 16 (.cg: 16)", args[2])
	}
	in.src = []int32{dr, sr}
	in.aux[0], in.aux[1] = doff, soff
	ignore := false
	rest := args[3:]
	if o.has("L2::cache_hint") && len(rest) > 0 {
		rest = rest[:len(rest)-1] // the cache policy: a hint
	}
	if len(rest) > 1 {
		return fmt.Errorf("%d operands", len(args))
	}
	if len(rest) == 1 {
		r, err := d.src(rest[0], tU32)
		if err != nil {
			return err
		}
		ignore = int(r) < len(d.c.regType) && d.c.regType[r] == ".pred"
		in.src = append(in.src, r)
	}
	n := int(size)
	in.exec = func(w *warp, in *inst, m uint32) {
		c := w.cta
		dv, sv := w.reg(in.src[0]), w.reg(in.src[1])
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			dst, src := dv[l]+uint64(in.aux[0]), sv[l]+uint64(in.aux[1])
			read := n
			if len(in.src) == 3 {
				x := w.reg(in.src[2])[l]
				switch {
				case ignore && x&1 != 0:
					read = 0
				case !ignore:
					read = int(uint32(x))
				}
				if read > n {
					w.report(in, 1<<l, KindAsync, "cp.async src-size %d exceeds cp-size %d", read, n)
					read = n
				}
			}
			if dst%uint64(n) != 0 || src%uint64(n) != 0 {
				w.report(in, 1<<l, KindMisaligned, "cp.async of %d bytes from %#x to shared %#x: both must be %d-byte aligned", n, src, dst, n)
				continue
			}
			if dst+uint64(n) > uint64(len(c.shared)) {
				w.report(in, 1<<l, KindOutOfBounds, "cp.async writes %d bytes at shared %#x: the CTA has %d bytes", n, dst, len(c.shared))
				continue
			}
			ww, ll, ii := w, l, in
			op := &asyncOp{w: w, in: in, lane: l, mbar: -1, dst: [2]uint64{dst, dst + uint64(n)}}
			op.perform = func() {
				buf := make([]byte, n)
				if read > 0 {
					b := ww.global(ii, ll, src, read, false)
					if b != nil {
						copy(buf, b)
					}
				}
				c.asyncWrite(dst, buf, true)
			}
			c.queue(op)
			la := &w.cpAsync[l]
			la.uncommitted = append(la.uncommitted, op)
		}
	}
	return nil
}

// asyncWrite lands an asynchronous copy's bytes in shared memory, as
// written by the issuing warp (generic proxy for cp.async, the async proxy
// for bulk and tensor copies, which a wgmma may read without a fence).
func (c *cta) asyncWrite(dst uint64, data []byte, generic bool) {
	copy(c.shared[dst:], data)
	if c.init == nil {
		return
	}
	// The copy's completion (a group wait, an mbarrier phase) makes the
	// bytes visible; reading them before it is reported through asyncW, so
	// they take no part in the race detector's epochs.
	for i := dst; i < dst+uint64(len(data)); i++ {
		c.init[i] = c.serial
		c.wEpoch[i] = 0
		c.wFence[i] = 0
		if generic {
			c.wFence[i] = c.fences + 1
		}
	}
}

// buildGroupOp: cp.async.commit_group / wait_group N / wait_all and
// cp.async.bulk.commit_group / wait_group{.read} N, per thread.
func buildGroupOp(d *decoder, in *inst, o *opc, args []string, bulk bool) error {
	read := o.has("read")
	if err := onlyWithHints(o, "bulk", "commit_group", "wait_group", "wait_all", "read"); err != nil {
		return err
	}
	if read && (!bulk || !o.has("wait_group")) {
		return fmt.Errorf(".read is for cp.async.bulk.wait_group")
	}
	var keep int64 = -1 // commit
	switch {
	case o.has("wait_group"):
		if err := need(args, 1); err != nil {
			return err
		}
		n, err := parseIntLit(args[0])
		if err != nil || n > 1<<20 {
			return fmt.Errorf("wait_group takes an integer constant")
		}
		keep = int64(n)
	case o.has("wait_all"):
		keep = 0
	}
	if (keep < 0 || o.has("wait_all")) && len(args) != 0 {
		return fmt.Errorf("takes no operands")
	}
	commit := keep < 0 || o.has("wait_all")
	in.exec = func(w *warp, in *inst, m uint32) {
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			la := &w.cpAsync[l]
			if bulk {
				la = &w.bulkAsync[l]
			}
			if commit {
				la.groups = append(la.groups, la.uncommitted)
				la.uncommitted = nil
			}
			if keep < 0 {
				continue
			}
			// Wait: every group but the newest keep completes. (.read only
			// needs the sources read; the emulator performs the whole copy.)
			for int64(len(la.groups)) > keep {
				g := la.groups[0]
				la.groups = la.groups[1:]
				w.cta.drain(func(op *asyncOp) bool {
					for _, x := range g {
						if x == op {
							return true
						}
					}
					return false
				})
			}
		}
	}
	return nil
}

// buildCpAsyncArrive: cp.async.mbarrier.arrive{.noinc}.shared.b64 [addr]:
// an arrive on the mbarrier once every cp.async the thread issued has
// completed; without .noinc the pending count is raised by one first.
func buildCpAsyncArrive(d *decoder, in *inst, o *opc, args []string) error {
	if err := onlyWithHints(o, "mbarrier", "arrive", "noinc", "shared", "shared::cta"); err != nil {
		return err
	}
	if _, err := oneType(o, tB64); err != nil {
		return err
	}
	if err := need(args, 1); err != nil {
		return err
	}
	sp, err := asyncSpace(o)
	if err != nil {
		return err
	}
	in.space = sp
	if in.addr, in.off, err = d.mem(args[0], sp); err != nil {
		return err
	}
	noinc := o.has("noinc")
	in.exec = func(w *warp, in *inst, m uint32) {
		c := w.cta
		base := w.reg(in.addr)
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			b, addr, ok := w.liveMbar(in, l, base[l]+uint64(in.off), "cp.async.mbarrier.arrive")
			if !ok {
				continue
			}
			if !noinc {
				if b.pending >= mbarMax {
					w.report(in, 1<<l, KindAsync, "cp.async.mbarrier.arrive raises the pending count above 2^20-1")
				}
				b.pending++
			}
			var mine []*asyncOp
			la := &w.cpAsync[l]
			for _, g := range la.groups {
				mine = append(mine, g...)
			}
			mine = append(mine, la.uncommitted...)
			op := &asyncOp{w: w, in: in, lane: l, mbar: int64(addr), arrive: true}
			op.perform = func() {
				for _, x := range mine {
					c.complete(x)
				}
			}
			c.queue(op)
		}
	}
	return nil
}

// buildBulkCopy: cp.async.bulk global → shared (completing on an
// mbarrier with complete_tx of size bytes) and shared → global (a bulk
// async-group); size a multiple of 16, addresses 16-byte aligned.
func buildBulkCopy(d *decoder, in *inst, o *opc, args []string) error {
	if err := onlyWithHints(o, "bulk", "shared", "shared::cta", "shared::cluster", "global", "mbarrier::complete_tx::bytes", "bulk_group"); err != nil {
		return err
	}
	if o.has("multicast::cluster") {
		return fmt.Errorf("multicast (clusters) is not implemented")
	}
	load := strings.HasPrefix(o.text, "cp.async.bulk.shared")
	if load && !(o.has("global") && o.has("mbarrier::complete_tx::bytes")) || !load && !(o.has("global") && o.has("bulk_group")) {
		return fmt.Errorf("only global → shared (mbarrier::complete_tx::bytes) and shared → global (bulk_group) are implemented")
	}
	want := 3
	if load {
		want = 4
	}
	if len(args) < want || len(args) > want+1 {
		return fmt.Errorf("%d operands", len(args))
	}
	dsp, ssp := spShared, spGlobal
	if !load {
		dsp, ssp = spGlobal, spShared
	}
	in.space = spShared // of the mbarrier
	dr, doff, err := d.mem(args[0], dsp)
	if err != nil {
		return err
	}
	sr, soff, err := d.mem(args[1], ssp)
	if err != nil {
		return err
	}
	sz, err := d.src(args[2], tU32)
	if err != nil {
		return err
	}
	in.src = []int32{dr, sr, sz}
	in.aux[0], in.aux[1] = doff, soff
	if load {
		if err := d.mbarOperand(in, args[3]); err != nil {
			return err
		}
	}
	in.exec = func(w *warp, in *inst, m uint32) {
		c := w.cta
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			dst := w.reg(in.src[0])[l] + uint64(in.aux[0])
			src := w.reg(in.src[1])[l] + uint64(in.aux[1])
			n := uint64(uint32(w.reg(in.src[2])[l]))
			if n%16 != 0 || dst%16 != 0 || src%16 != 0 {
				w.report(in, 1<<l, KindMisaligned, "cp.async.bulk of %d bytes from %#x to %#x: the size must be a multiple of 16 and both addresses 16-byte aligned", n, src, dst)
				continue
			}
			ww, ll, ii := w, l, in
			if load {
				if dst+n > uint64(len(c.shared)) {
					w.report(in, 1<<l, KindOutOfBounds, "cp.async.bulk writes %d bytes at shared %#x: the CTA has %d bytes", n, dst, len(c.shared))
					continue
				}
				w.queueLoad(in, l, w.reg(in.src[3])[l]+uint64(in.aux[2]), uint32(n), [2]uint64{dst, dst + n}, func() {
					buf := ww.globalChunks(ii, ll, src, n, nil)
					if buf == nil {
						buf = make([]byte, n)
					}
					c.asyncWrite(dst, buf, false)
				})
				continue
			}
			if src+n > uint64(len(c.shared)) {
				w.report(in, 1<<l, KindOutOfBounds, "cp.async.bulk reads %d bytes at shared %#x: the CTA has %d bytes", n, src, len(c.shared))
				continue
			}
			w.queueStore(in, l, [2]uint64{src, src + n}, func() {
				ww.globalChunks(ii, ll, dst, n, append([]byte(nil), c.shared[src:src+n]...))
			})
		}
	}
	return nil
}

// globalChunks reads (or, with data, writes) n bytes of global memory at
// addr for a bulk copy, which needs 16-byte alignment only: 16 bytes at a
// time. It returns the bytes read, nil after a reported fault.
func (w *warp) globalChunks(in *inst, lane int, addr, n uint64, data []byte) []byte {
	out := make([]byte, n)
	for o := uint64(0); o < n; o += 16 {
		b := w.global(in, lane, addr+o, int(min(16, n-o)), data != nil)
		if b == nil {
			return nil
		}
		if data != nil {
			copy(b, data[o:])
		} else {
			copy(out[o:], b)
		}
	}
	return out
}

// queueLoad queues a copy into the shared bytes dst that completes on the
// mbarrier at mbar with a complete-tx of tx bytes.
func (w *warp) queueLoad(in *inst, l int, mbar uint64, tx uint32, dst [2]uint64, perform func()) {
	if b, _, ok := w.mbarAt(in, l, mbar); !ok || b == nil {
		w.report(in, 1<<l, KindAsync, "the copy completes on shared offset %#x, which holds no mbarrier", mbar)
		return
	}
	w.cta.queue(&asyncOp{w: w, in: in, lane: l, mbar: int64(mbar), tx: tx, dst: dst, perform: perform})
}

// queueStore queues a copy out of the shared bytes src in the lane's
// uncommitted bulk async-group.
func (w *warp) queueStore(in *inst, l int, src [2]uint64, perform func()) {
	op := &asyncOp{w: w, in: in, lane: l, mbar: -1, src: src, perform: perform}
	w.cta.queue(op)
	la := &w.bulkAsync[l]
	la.uncommitted = append(la.uncommitted, op)
}

// mbarOperand decodes the [mbar] operand of a copy into in.src and aux[2].
func (d *decoder) mbarOperand(in *inst, a string) error {
	mr, moff, err := d.mem(a, spShared)
	if err != nil {
		return err
	}
	in.src = append(in.src, mr)
	in.aux[2] = moff
	return nil
}

// buildPrefetch: cp.async.bulk.prefetch{.tensor} is a hint: operands are
// decoded, nothing happens.
func buildPrefetch(d *decoder, in *inst, o *opc, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("no operands")
	}
	in.exec = func(w *warp, in *inst, m uint32) {}
	return nil
}

// tensorOperand splits "[tmap, {c0, c1}]" into the map's address and the
// coordinates.
func (d *decoder) tensorOperand(a string) (int32, int64, []int32, error) {
	if !strings.HasPrefix(a, "[") || !strings.HasSuffix(a, "]") {
		return 0, 0, nil, fmt.Errorf("tensor operand %q: want [tensorMap, {coordinates}]", a)
	}
	parts := splitArgs(a[1 : len(a)-1])
	if len(parts) != 2 || !strings.HasPrefix(parts[1], "{") {
		return 0, 0, nil, fmt.Errorf("tensor operand %q: want [tensorMap, {coordinates}]", a)
	}
	r, off, err := d.mem("["+parts[0]+"]", spGeneric)
	if err != nil {
		return 0, 0, nil, err
	}
	var cs []int32
	for _, c := range vector(parts[1]) {
		x, err := d.src(c, tS32)
		if err != nil {
			return 0, 0, nil, err
		}
		cs = append(cs, x)
	}
	return r, off, cs, nil
}

// tensorMapAt reads the 128 bytes of a tensor map from a generic address:
// the kernel's parameters (the address of a .param, with or without
// cvta.param) or global memory.
func (w *warp) tensorMapAt(in *inst, lane int, addr uint64) (*TensorMap, bool) {
	p := w.cta.l.params
	var b []byte
	switch {
	case addr >= paramWindow && addr-paramWindow+128 <= uint64(len(p)):
		b = p[addr-paramWindow:]
	case addr+128 <= uint64(len(p)):
		b = p[addr:]
	default:
		if addr%16 != 0 {
			w.report(in, 1<<lane, KindMisaligned, "the tensor map at %#x is not 16-byte aligned", addr)
			return nil, false
		}
		if b = w.globalChunks(in, lane, addr, 128, nil); b == nil {
			return nil, false
		}
	}
	t, err := decodeTensorMap(b)
	if err != nil {
		w.report(in, 1<<lane, KindAsync, "the tensor map at %#x: %v", addr, err)
		return nil, false
	}
	return t, true
}

// buildTensorCopy: cp.async.bulk.tensor.Nd tile-mode loads (global →
// shared, complete_tx of the whole box on an mbarrier) and stores (shared
// → global, a bulk async-group). The box lands row-major, innermost
// dimension first, its 16-byte chunks swizzled by the map's mode on the
// absolute shared address; elements outside the tensor read as zero (or
// NaN) and are not stored.
func buildTensorCopy(d *decoder, in *inst, o *opc, args []string) error {
	dim := 0
	for _, m := range o.order {
		if len(m) == 2 && m[1] == 'd' && m[0] >= '1' && m[0] <= '5' {
			dim = int(m[0] - '0')
		}
	}
	if o.has("im2col") || o.has("im2col_no_offs") {
		return fmt.Errorf("im2col mode is not implemented")
	}
	if o.has("multicast::cluster") {
		return fmt.Errorf("multicast (clusters) is not implemented")
	}
	if err := onlyWithHints(o, "bulk", "tensor", fmt.Sprintf("%dd", dim), "shared", "shared::cta", "shared::cluster", "global", "tile", "mbarrier::complete_tx::bytes", "bulk_group"); err != nil {
		return err
	}
	load := strings.HasPrefix(o.text, fmt.Sprintf("cp.async.bulk.tensor.%dd.shared", dim))
	if dim == 0 || load && !o.has("mbarrier::complete_tx::bytes") || !load && !o.has("bulk_group") {
		return fmt.Errorf("want cp.async.bulk.tensor.Nd.shared.global...mbarrier::complete_tx::bytes or .global.shared::cta...bulk_group")
	}
	if o.has("L2::cache_hint") && len(args) > 0 {
		args = args[:len(args)-1]
	}
	want := 2
	if load {
		want = 3
	}
	if err := need(args, want); err != nil {
		return err
	}
	tArg, sArg := args[1], args[0]
	if !load {
		tArg, sArg = args[0], args[1]
	}
	in.space = spShared // of the shared operands and the mbarrier
	tr, toff, coords, err := d.tensorOperand(tArg)
	if err != nil {
		return err
	}
	if len(coords) != dim {
		return fmt.Errorf("%d coordinates for a .%dd copy", len(coords), dim)
	}
	sr, soff, err := d.mem(sArg, spShared)
	if err != nil {
		return err
	}
	in.src = append([]int32{tr, sr}, coords...)
	in.aux[0], in.aux[1] = toff, soff
	if load {
		if err := d.mbarOperand(in, args[2]); err != nil {
			return err
		}
	}
	in.exec = func(w *warp, in *inst, m uint32) {
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			box, ok := w.tensorBox(in, l, dim)
			if !ok {
				continue
			}
			if load {
				w.tensorLoad(in, l, box)
			} else {
				w.tensorStore(in, l, box)
			}
		}
	}
	return nil
}

// tensorBox is one lane's tensor copy: the map, the box's origin in the
// tensor, its extent in elements per dimension (1 beyond the rank), and
// where it lies in shared memory.
type tensorBox struct {
	t     *TensorMap
	dim   int
	es    int // element bytes
	co    [5]int64
	n     [5]int64
	bytes int64
	smem  uint64
}

// tensorBox reads lane l's tensor map and box coordinates and checks what
// the emulator models: a map of the copy's rank, not interleaved, a
// swizzled box whose rows are the swizzle span, and a box inside the
// CTA's shared memory at an aligned address.
func (w *warp) tensorBox(in *inst, l, dim int) (*tensorBox, bool) {
	t, ok := w.tensorMapAt(in, l, w.reg(in.src[0])[l]+uint64(in.aux[0]))
	if !ok {
		return nil, false
	}
	if t.Rank != dim {
		w.report(in, 1<<l, KindAsync, "a .%dd copy with a rank-%d tensor map", dim, t.Rank)
		return nil, false
	}
	if t.Interleave != 0 {
		w.report(in, 1<<l, KindAsync, "interleaved tensor maps are not modelled by the emulator")
		return nil, false
	}
	es := tensorElemBytes[t.DataType]
	if span := swizzleSpan(t.Swizzle); span > 0 && int(t.Box[0])*es != span {
		w.report(in, 1<<l, KindAsync, "a swizzled box whose rows (%d bytes) are not the %d-byte swizzle span: not modelled by the emulator", int(t.Box[0])*es, span)
		return nil, false
	}
	b := &tensorBox{t: t, dim: dim, es: es}
	for i := 0; i < dim; i++ {
		b.co[i] = int64(int32(w.reg(in.src[2+i])[l]))
	}
	b.bytes = int64(es)
	for i := range b.n {
		b.n[i] = 1
		if i < dim {
			b.n[i] = int64(t.Box[i])
			if i > 0 {
				b.n[i] = (int64(t.Box[i]) + int64(t.ElementStrides[i]) - 1) / int64(t.ElementStrides[i])
			}
		}
		b.bytes *= b.n[i]
	}
	b.smem = w.reg(in.src[1])[l] + uint64(in.aux[1])
	if b.smem%16 != 0 || b.smem%128 != 0 {
		w.report(in, 1<<l, KindMisaligned, "the shared address %#x of a tensor copy is not 128-byte aligned (the ISA requires 16, the hardware 128)", b.smem)
		if b.smem%16 != 0 {
			return nil, false
		}
	}
	if b.smem+uint64(b.bytes) > uint64(len(w.cta.shared)) {
		w.report(in, 1<<l, KindOutOfBounds, "a %d-byte tensor box at shared %#x: the CTA has %d bytes", b.bytes, b.smem, len(w.cta.shared))
		return nil, false
	}
	return b, true
}

// each visits every box element: its shared address and, when it is
// inside the tensor, its global address.
func (b *tensorBox) each(f func(sAddr uint64, gAddr uint64, in bool)) {
	t, es, n := b.t, b.es, b.n
	var k [5]int64
	lin := int64(0)
	for k[4] = 0; k[4] < n[4]; k[4]++ {
		for k[3] = 0; k[3] < n[3]; k[3]++ {
			for k[2] = 0; k[2] < n[2]; k[2]++ {
				for k[1] = 0; k[1] < n[1]; k[1]++ {
					for k[0] = 0; k[0] < n[0]; k[0]++ {
						inside := true
						g := t.Global
						for i := 0; i < b.dim; i++ {
							e := int64(1)
							if i > 0 {
								e = int64(t.ElementStrides[i])
							}
							x := b.co[i] + k[i]*e
							if x < 0 || x >= int64(t.Dims[i]) {
								inside = false
								break
							}
							st := uint64(es)
							if i > 0 {
								st = t.Strides[i-1]
							}
							g += uint64(x) * st
						}
						sa := b.smem + uint64(lin*int64(es))
						if t.Swizzle != SwizzleNone {
							sa = swizzle(sa, swizzleSpan(t.Swizzle))
						}
						f(sa, g, inside)
						lin++
					}
				}
			}
		}
	}
}

// inFlight is the shared range the copy marks in flight: a swizzled box
// scatters its chunks within the 1 KiB swizzle repeats it touches, so the
// whole repeats are marked (up to the end of shared memory).
func (b *tensorBox) inFlight(sharedLen int) [2]uint64 {
	lo, hi := b.smem&^1023, b.smem+uint64(b.bytes)
	if b.t.Swizzle == SwizzleNone {
		lo = b.smem
	}
	hi = min(uint64(sharedLen), (hi+1023)&^1023)
	if b.t.Swizzle == SwizzleNone {
		hi = b.smem + uint64(b.bytes)
	}
	return [2]uint64{lo, hi}
}

// tensorLoad queues the box's load: global → shared, with the fill for
// elements outside the tensor, completing on the instruction's mbarrier.
func (w *warp) tensorLoad(in *inst, l int, b *tensorBox) {
	c, es := w.cta, b.es
	fill := oobFill(b.t)
	w.queueLoad(in, l, w.reg(in.src[2+b.dim])[l]+uint64(in.aux[2]), uint32(b.bytes), b.inFlight(len(c.shared)), func() {
		b.each(func(sa, ga uint64, inside bool) {
			data := fill
			if inside {
				if g := w.global(in, l, ga, es, false); g != nil {
					data = g
				}
			}
			c.asyncWrite(sa, data[:es], false)
		})
	})
}

// tensorStore queues the box's store: shared → global, elements outside
// the tensor skipped. A negative coordinate is reported: the ISA leaves
// stores there undefined.
func (w *warp) tensorStore(in *inst, l int, b *tensorBox) {
	c, es := w.cta, b.es
	for i := 0; i < b.dim; i++ {
		if b.co[i] < 0 {
			w.report(in, 1<<l, KindAsync, "a tensor store at negative coordinate %d in dimension %d", b.co[i], i)
		}
	}
	w.queueStore(in, l, b.inFlight(len(c.shared)), func() {
		b.each(func(sa, ga uint64, inside bool) {
			if !inside {
				return
			}
			data := append([]byte(nil), c.shared[sa:sa+uint64(es)]...)
			if g := w.global(in, l, ga, es, true); g != nil {
				copy(g, data)
			}
		})
	})
}

// oobFill is the bytes of one element outside the tensor: zeros, or with
// the NaN-request fill a NaN of the element type.
func oobFill(t *TensorMap) []byte {
	b := make([]byte, 8)
	if t.OOBFill == 0 {
		return b
	}
	switch tensorElemBytes[t.DataType] {
	case 2:
		binary.LittleEndian.PutUint16(b, 0x7fff)
	case 4:
		binary.LittleEndian.PutUint32(b, canonNaN32)
	case 8:
		binary.LittleEndian.PutUint64(b, canonNaN64)
	}
	return b
}
