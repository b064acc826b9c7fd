package emu

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Hopper's warpgroup MMA (docs/ptx-isa-notes.md, "wgmma"). Four warps
// execute each wgmma instruction together. mma_async reads A and B from
// shared memory through 64-bit matrix descriptors and accumulates into
// registers spread over the 128 threads; its results become visible only
// when a wgmma.wait_group retires its commit group. The emulator computes
// the product when the instruction is issued (reading shared memory then)
// and holds the result until the wait; meanwhile the accumulator
// registers keep their old values, and touching them, or writing the
// shared memory being read, is reported.

func init() {
	builders["wgmma"] = buildWGMMA
}

// warpgroup is four consecutive warps of a CTA.
type warpgroup struct {
	cta       *cta
	warps     []*warp
	pending   []*mmaOp // issued and not retired, in issue order
	nextGroup int
	fenced    bool // a wgmma.fence was executed
}

func (g *warpgroup) reset() {
	g.pending = g.pending[:0]
	g.nextGroup = 0
	g.fenced = false
}

// mmaOp is an issued wgmma.mma_async.
type mmaOp struct {
	pc    int32
	regs  []int32
	aRegs []int32  // A fragment registers (A from registers)
	vals  []uint64 // [thread][reg] result bits
	group int      // commit group, -1 until committed
	reads []uint32 // shared byte offsets it read (pending-read counters)
}

// mmaShape is a decoded wgmma.mma_async.
type mmaShape struct {
	m, n, k  int
	atype    ptype
	btype    ptype
	elemSize int
	aRegs    []int32 // A from registers: its 4 .b32 fragment registers
}

// Registers an in-flight wgmma owns (warp.busy bits).
const (
	busyAcc uint8 = 1 // an accumulator: no other access until the wait
	busyA   uint8 = 2 // an A fragment: not to be overwritten until the wait
)

// markBusy recomputes which registers the warpgroup's in-flight
// operations own.
func (g *warpgroup) markBusy() {
	for _, w := range g.warps {
		clear(w.busy)
		w.nbusy = 0
		for _, p := range g.pending {
			for _, r := range p.regs {
				w.busy[r] |= busyAcc
			}
			for _, r := range p.aRegs {
				w.busy[r] |= busyA
			}
		}
		for _, b := range w.busy {
			if b != 0 {
				w.nbusy++
			}
		}
	}
}

// Descriptor is a wgmma shared memory matrix descriptor, decoded.
type Descriptor struct {
	Start   uint64 // byte address in the shared window
	LBO     uint64 // leading dimension byte offset
	SBO     uint64 // stride dimension byte offset
	Base    uint64 // base offset (3 bits)
	Swizzle int    // swizzle width in bytes: 0 (none), 32, 64, 128
}

// DecodeDescriptor splits a descriptor into its fields: start address
// bits 0-13, LBO bits 16-29, SBO bits 32-45 (each in units of 16 bytes),
// base offset bits 49-51, swizzle mode bits 62-63 (0 none, 1 128B,
// 2 64B, 3 32B).
func DecodeDescriptor(d uint64) Descriptor {
	sw := [4]int{0, 128, 64, 32}[d>>62&3]
	return Descriptor{
		Start:   (d & 0x3fff) << 4,
		LBO:     (d >> 16 & 0x3fff) << 4,
		SBO:     (d >> 32 & 0x3fff) << 4,
		Base:    d >> 49 & 7,
		Swizzle: sw,
	}
}

// Addr is the shared address of element (mn, k) of an operand stored in
// the canonical layout the descriptor describes (docs/ptx-isa-notes.md
// §10.6): mn is the M (A) or N (B) index, k the K index, es the element
// size in bytes; kMajor says K is the contiguous dimension (no transpose).
//
// The layouts are built of core matrices of 8 rows × 16 bytes. K-major:
// without swizzling a core matrix row holds 16 bytes of K, the next core
// matrix along K is LBO away and the next 8 rows along M/N SBO away; with
// a W-byte swizzle a row holds W bytes of K (LBO unused) and 8-row groups
// are SBO apart. MN-major: without swizzling 16-byte chunks along M/N are
// SBO apart and 8-K groups LBO apart; with a swizzle, W-byte chunks along
// M/N are LBO apart, K rows W bytes apart and 8-K groups SBO apart. The
// swizzle then XORs the 16-byte chunk bits of the absolute address with
// its 128-byte line bits.
func (dsc Descriptor) Addr(mn, k, es int, kMajor bool) uint64 {
	w := uint64(dsc.Swizzle)
	var off uint64
	switch {
	case kMajor && w == 0:
		kb := uint64(k * es)
		off = uint64(mn%8)*16 + uint64(mn/8)*dsc.SBO + kb%16 + kb/16*dsc.LBO
	case kMajor:
		kb := uint64(k * es)
		off = uint64(mn%8)*w + uint64(mn/8)*dsc.SBO + kb%w + kb/w*dsc.LBO
	case w == 0:
		xb := uint64(mn * es)
		off = xb%16 + xb/16*dsc.SBO + uint64(k%8)*16 + uint64(k/8)*dsc.LBO
	default:
		xb := uint64(mn * es)
		off = xb%w + xb/w*dsc.LBO + uint64(k%8)*w + uint64(k/8)*dsc.SBO
	}
	a := dsc.Start + off
	if w != 0 {
		a = swizzle(a, dsc.Swizzle)
	}
	return a
}

// swizzle XORs the 16-byte chunk bits of a with its 128-byte line bits:
// for W = 128, bits 4-6 ^= bits 7-9; 64: bits 4-5 ^= bits 7-8; 32: bit 4
// ^= bit 7 (the pattern repeats every 8·W bytes).
func swizzle(a uint64, w int) uint64 {
	mask := uint64(w/16 - 1)
	return a ^ (a>>7&mask)<<4
}

func buildWGMMA(d *decoder, in *inst, o *opc, args []string) error {
	d.k.usesWGMMA = true
	in.kind = kGroup
	switch {
	case strings.HasPrefix(o.text, "wgmma.fence.sync.aligned") && len(o.order) == 3:
		in.exec = wgFence
	case strings.HasPrefix(o.text, "wgmma.commit_group.sync.aligned") && len(o.order) == 3:
		in.exec = wgCommit
	case strings.HasPrefix(o.text, "wgmma.wait_group.sync.aligned") && len(o.order) == 3:
		if err := need(args, 1); err != nil {
			return err
		}
		n, err := parseIntLit(args[0])
		if err != nil || n > 1<<20 {
			return fmt.Errorf("wait_group takes an integer constant")
		}
		in.aux[0] = int64(n)
		in.exec = wgWait
	case strings.HasPrefix(o.text, "wgmma.mma_async.sync.aligned."):
		return buildMMA(d, in, o, args)
	default:
		return fmt.Errorf("%s is not implemented", o.text)
	}
	if o.base != "wgmma" || len(o.types) != 0 {
		return fmt.Errorf("%s is not implemented", o.text)
	}
	if !strings.HasPrefix(o.text, "wgmma.wait_group") && len(args) != 0 {
		return fmt.Errorf("takes no operands")
	}
	return nil
}

// buildMMA: wgmma.mma_async.sync.aligned.m64nNkK.f32.atype.btype d,
// a-desc, b-desc, scale-d, imm-scale-a, imm-scale-b[, imm-trans-a,
// imm-trans-b] with both operands from shared memory.
func buildMMA(d *decoder, in *inst, o *opc, args []string) error {
	sh := mmaShape{}
	shape := ""
	for _, m := range o.order {
		switch {
		case m == "mma_async" || m == "sync" || m == "aligned":
		case strings.HasPrefix(m, "m64n"):
			shape = m
		default:
			return fmt.Errorf("modifier .%s is not implemented", m)
		}
	}
	var n, k int
	if _, err := fmt.Sscanf(shape, "m64n%dk%d", &n, &k); err != nil || shape != fmt.Sprintf("m64n%dk%d", n, k) {
		return fmt.Errorf("shape %q", shape)
	}
	if n < 8 || n > 256 || n%8 != 0 {
		return fmt.Errorf("N = %d: must be a multiple of 8 in 8..256", n)
	}
	if len(o.types) != 3 || o.types[0] != tF32 {
		return fmt.Errorf("only f32 accumulators are implemented")
	}
	sh.m, sh.n, sh.k = 64, n, k
	sh.atype, sh.btype = o.types[1], o.types[2]
	ntrans := 2
	switch {
	case sh.atype == tBF16 && sh.btype == tBF16 || sh.atype == tF16 && sh.btype == tF16:
		if k != 16 {
			return fmt.Errorf("16-bit inputs take K = 16")
		}
		sh.elemSize = 2
	case (sh.atype == tE4M3 || sh.atype == tE5M2) && (sh.btype == tE4M3 || sh.btype == tE5M2):
		if k != 32 {
			return fmt.Errorf("FP8 inputs take K = 32")
		}
		sh.elemSize = 1
		ntrans = 0 // FP8 operands are K-major only
	default:
		return fmt.Errorf("input types .%s.%s are not implemented", sh.atype, sh.btype)
	}
	if len(args) > 1 && strings.HasPrefix(args[1], "{") && ntrans == 2 {
		ntrans = 1 // A from registers has no imm-trans-a
	}
	if err := need(args, 6+ntrans); err != nil {
		return err
	}
	accs := vector(args[0])
	if len(accs) != n/2 {
		return fmt.Errorf("%d accumulator registers, want %d (N/2 per thread)", len(accs), n/2)
	}
	for _, a := range accs {
		r, err := d.dst(a)
		if err != nil || r < 0 {
			return fmt.Errorf("accumulator %s is not a register", a)
		}
		in.dst = append(in.dst, r)
	}
	var ad int32
	if strings.HasPrefix(args[1], "{") {
		// A from registers: 4 .b32 registers per thread, and no
		// imm-trans-a (ISA §9.7.15.5.2).
		regs := vector(args[1])
		if len(regs) != 4 {
			return fmt.Errorf("A from registers takes 4 .b32 registers, got %d", len(regs))
		}
		for _, r := range regs {
			x, ok := d.lookup(r)
			if !ok {
				return fmt.Errorf("A fragment %s is not a register", r)
			}
			sh.aRegs = append(sh.aRegs, x)
		}
		ad = sh.aRegs[0]
	} else {
		var err error
		if ad, err = d.src(args[1], tB64); err != nil {
			return err
		}
	}
	bd, err := d.src(args[2], tB64)
	if err != nil {
		return err
	}
	sd, err := d.src(args[3], tPred)
	if err != nil {
		return err
	}
	in.src = []int32{ad, bd, sd}
	imm := make([]int64, 0, 4)
	for _, a := range args[4:] {
		v, err := strconv.ParseInt(a, 10, 8)
		if err != nil {
			return fmt.Errorf("operand %q must be an integer constant", a)
		}
		imm = append(imm, v)
	}
	if imm[0] != 1 && imm[0] != -1 || imm[1] != 1 && imm[1] != -1 {
		return fmt.Errorf("imm-scale-a/b must be 1 or -1")
	}
	in.aux[0], in.aux[1] = imm[0], imm[1]
	switch ntrans {
	case 2:
		if imm[2]&^1 != 0 || imm[3]&^1 != 0 {
			return fmt.Errorf("imm-trans-a/b must be 0 or 1")
		}
		in.aux[2], in.aux[3] = imm[2], imm[3]
	case 1:
		if imm[2]&^1 != 0 {
			return fmt.Errorf("imm-trans-b must be 0 or 1")
		}
		in.aux[3] = imm[2]
	}
	in.data = &sh
	in.exec = wgMMA
	return nil
}

func wgFence(w *warp, in *inst, _ uint32) {
	g := w.cta.groups[w.id/4]
	g.fenced = true
	for _, o := range g.warps {
		o.lastFence = o.serial
	}
}

func wgCommit(w *warp, in *inst, _ uint32) {
	g := w.cta.groups[w.id/4]
	for _, p := range g.pending {
		if p.group < 0 {
			p.group = g.nextGroup
		}
	}
	g.nextGroup++
}

// wgWait retires every committed group but the newest N.
func wgWait(w *warp, in *inst, _ uint32) {
	g := w.cta.groups[w.id/4]
	n := int(in.aux[0])
	keepFrom := g.nextGroup - n // groups >= keepFrom may stay in flight
	rest := g.pending[:0]
	var done []*mmaOp
	for _, p := range g.pending {
		if p.group >= 0 && p.group < keepFrom {
			done = append(done, p)
			continue
		}
		rest = append(rest, p)
	}
	g.pending = rest
	for _, p := range done { // in issue order: a later result wins
		g.retire(p)
	}
	g.markBusy()
}

// retire writes an operation's results into the accumulators.
func (g *warpgroup) retire(p *mmaOp) {
	nr := len(p.regs)
	for wi, w := range g.warps {
		for j, r := range p.regs {
			reg := w.reg(r)
			for l := 0; l < warpSize; l++ {
				reg[l] = p.vals[(wi*warpSize+l)*nr+j]
			}
			if w.def != nil {
				w.def[r] = fullMask
				w.lastW[r] = w.serial
			}
		}
	}
	if g.cta.pend != nil {
		for _, a := range p.reads {
			g.cta.pend[a]--
		}
	}
}

// FragmentRowCol is the (row, col) of the 64×N accumulator that thread t
// (0..127) of the warpgroup holds in its register i: warp t/32 owns rows
// 16·(t/32)..+15; within it lane l holds rows l/4 and l/4+8, columns
// 2·(l%4) and +1 of every 8-column block (i/4 picks the block, bit 1 of i
// the row half, bit 0 the column).
func FragmentRowCol(t, i int) (int, int) {
	wp, l := t/warpSize, t%warpSize
	row := 16*wp + l/4 + 8*(i>>1&1)
	col := 8*(i>>2) + 2*(l%4) + i&1
	return row, col
}

// wgMMA issues one wgmma.mma_async for the warpgroup of w: it checks the
// issue, gathers A and B, computes the product and holds the result until
// a wait retires it.
func wgMMA(w *warp, in *inst, _ uint32) {
	g := w.cta.groups[w.id/4]
	sh := in.data.(*mmaShape)
	if len(g.warps) != 4 {
		w.report(in, fullMask, KindWGMMA, "wgmma needs a warpgroup of 4 warps; this one has %d", len(g.warps))
		return
	}
	w0 := g.warps[0]
	adesc, bdesc := w0.reg(in.src[0])[0], w0.reg(in.src[1])[0]
	scaleD := w0.reg(in.src[2])[0]&1 != 0
	if w.cta.l.sanitize {
		checkMMAIssue(w, g, in, sh, adesc, bdesc, scaleD)
	}
	op := &mmaOp{pc: w.waitPC, regs: in.dst, group: -1}
	A, B := gatherMMA(w, g, in, sh, op, DecodeDescriptor(adesc), DecodeDescriptor(bdesc))
	latest, latestAt := g.inFlightAccumulators(op.regs)
	C := productF64(sh, A, B)
	op.vals = accumulate(w.cta, g, sh, op.regs, C, scaleD, latest, latestAt)
	g.pending = append(g.pending, op)
	g.markBusy()
}

// checkMMAIssue reports (sanitizer) an issue the ISA leaves undefined: no
// wgmma.fence yet, descriptors or scale-d differing between threads,
// undefined operands, accumulators written since the last fence, and
// scale-d = 1 accumulating into undefined registers.
func checkMMAIssue(w *warp, g *warpgroup, in *inst, sh *mmaShape, adesc, bdesc uint64, scaleD bool) {
	names := w.cta.l.k.code.regNames
	w0 := g.warps[0]
	if !g.fenced {
		w.report(in, fullMask, KindWGMMA, "wgmma.mma_async before any wgmma.fence in this warpgroup")
	}
	for _, o := range g.warps {
		a, b, s := o.reg(in.src[0]), o.reg(in.src[1]), o.reg(in.src[2])
		for l := 0; l < warpSize; l++ {
			if a[l] != adesc && sh.aRegs == nil || b[l] != bdesc || s[l]&1 != w0.reg(in.src[2])[0]&1 {
				w.report(in, 1<<l, KindWGMMA, "the descriptors and scale-d must be the same in all 128 threads; warp %d lane %d differs", o.id, l)
				break
			}
		}
		for _, src := range append(in.src[:len(in.src):len(in.src)], sh.aRegs...) {
			if o.def[src] != fullMask {
				w.report(in, ^o.def[src], KindUndefined, "operand %s of wgmma is undefined in warp %d", names[src], o.id)
			}
		}
		for _, r := range append(in.dst[:len(in.dst):len(in.dst)], sh.aRegs...) {
			if o.lastW[r] > o.lastFence && o.busy[r] == 0 {
				w.report(in, fullMask, KindWGMMA, "accumulator %s was written by warp %d after its last wgmma.fence: a wgmma.fence must separate other accesses to the accumulators from wgmma.mma_async", names[r], o.id)
				break
			}
		}
		if scaleD {
			for _, r := range in.dst {
				if o.def[r] != fullMask && o.busy[r] == 0 {
					w.report(in, ^o.def[r], KindUndefined, "scale-d = 1 accumulates into %s, which is undefined in warp %d", names[r], o.id)
					break
				}
			}
		}
	}
}

// mmaReader reads one wgmma's operand elements from shared memory,
// reporting the first bad read only: one wrong descriptor makes every
// element after it bad too.
type mmaReader struct {
	w   *warp
	in  *inst
	op  *mmaOp
	es  int
	san bool
	ok  bool // no read has failed yet
}

// read is element (row, col) of the operand d describes, as f64. With the
// sanitizer it also checks the bytes were written, fenced for the async
// proxy and not raced, and marks them read until the wgmma retires.
func (r *mmaReader) read(row, col int, d Descriptor, kMajor bool, t ptype, what string) float64 {
	w, in, es, c := r.w, r.in, r.es, r.w.cta
	addr := d.Addr(row, col, es, kMajor)
	if addr+uint64(es) > uint64(len(c.shared)) {
		if r.ok {
			w.report(in, fullMask, KindOutOfBounds, "wgmma reads %s element (%d,%d) at shared offset %#x, beyond the CTA's %d bytes (descriptor start %#x, LBO %d, SBO %d)", what, row, col, addr, len(c.shared), d.Start, d.LBO, d.SBO)
		}
		r.ok = false
		return 0
	}
	if addr%uint64(es) != 0 {
		if r.ok {
			w.report(in, fullMask, KindMisaligned, "wgmma %s element (%d,%d) at shared offset %#x is misaligned", what, row, col, addr)
		}
		r.ok = false
		return 0
	}
	if r.san {
		for i := addr; i < addr+uint64(es); i++ {
			if c.init[i] != c.serial {
				if r.ok {
					w.report(in, fullMask, KindUninitialized, "wgmma reads %s element (%d,%d) at shared %s, never written by this CTA", what, row, col, c.l.k.sharedName(i))
				}
				r.ok = false
			} else if c.wFence[i] > c.fences {
				w.report(in, fullMask, KindWGMMA, "wgmma reads %s element (%d,%d) at shared %s, written by ordinary stores with no fence.proxy.async since (the tensor core reads through the async proxy)", what, row, col, c.l.k.sharedName(i))
			} else if c.wEpoch[i] == c.epoch && int(c.wWarp[i])/4 != w.id/4 {
				w.report(in, fullMask, KindRace, "wgmma reads %s element (%d,%d) at shared %s, which warp %d wrote since the last barrier", what, row, col, c.l.k.sharedName(i), c.wWarp[i])
			}
			c.pend[i]++
			r.op.reads = append(r.op.reads, uint32(i))
		}
	}
	return readFloat(t, getLE(c.shared[addr:addr+uint64(es)]))
}

// gatherMMA reads A [M][K] (from shared memory or the A fragment
// registers) and B [K][N] as f64, transposed (aux[2], aux[3]) and negated
// (aux[0], aux[1]) as the instruction says.
func gatherMMA(w *warp, g *warpgroup, in *inst, sh *mmaShape, op *mmaOp, da, db Descriptor) (A, B []float64) {
	san := w.cta.l.sanitize
	tA, tB := in.aux[2] != 0, in.aux[3] != 0
	A = make([]float64, sh.m*sh.k)
	B = make([]float64, sh.k*sh.n)
	descs := []Descriptor{da, db}
	if sh.aRegs != nil {
		descs = descs[1:]
	}
	for _, d := range descs {
		if d.Base != 0 && san {
			// The ISA says when the base offset is needed, not how the
			// hardware applies it: the emulator cannot vouch for it.
			w.report(in, fullMask, KindWGMMA, "descriptor base offset %d: not modelled by the emulator (align swizzle patterns to their repeat and use 0)", d.Base)
		}
	}
	r := &mmaReader{w: w, in: in, op: op, es: sh.elemSize, san: san, ok: true}
	if sh.aRegs != nil {
		op.aRegs = sh.aRegs
		fragmentA(g, sh, A)
	}
	for m := 0; m < sh.m && sh.aRegs == nil; m++ {
		for k := 0; k < sh.k; k++ {
			if tA {
				A[m*sh.k+k] = r.read(m, k, da, false, sh.atype, "A")
			} else {
				A[m*sh.k+k] = r.read(m, k, da, true, sh.atype, "A")
			}
		}
	}
	for k := 0; k < sh.k; k++ {
		for n := 0; n < sh.n; n++ {
			if tB {
				B[k*sh.n+n] = r.read(n, k, db, false, sh.btype, "B")
			} else {
				B[k*sh.n+n] = r.read(n, k, db, true, sh.btype, "B")
			}
		}
	}
	if in.aux[0] < 0 {
		for i := range A {
			A[i] = -A[i]
		}
	}
	if in.aux[1] < 0 {
		for i := range B {
			B[i] = -B[i]
		}
	}
	return A, B
}

// inFlightAccumulators finds, for each accumulator register, the latest
// in-flight operation that writes it and the register's index there: a
// wgmma accumulates into its predecessor's result, which the registers
// do not hold until the wait.
func (g *warpgroup) inFlightAccumulators(regs []int32) ([]*mmaOp, []int) {
	latest := make([]*mmaOp, len(regs))
	latestAt := make([]int, len(regs))
	for j, r := range regs {
		for pi := len(g.pending) - 1; pi >= 0; pi-- {
			if idx := indexOf(g.pending[pi].regs, r); idx >= 0 {
				latest[j], latestAt[j] = g.pending[pi], idx
				break
			}
		}
	}
	return latest, latestAt
}

// productF64 is C = A·B in f64, each element summed over k in order.
func productF64(sh *mmaShape, A, B []float64) []float64 {
	C := make([]float64, sh.m*sh.n)
	for row := 0; row < sh.m; row++ {
		c := C[row*sh.n : (row+1)*sh.n]
		for k := 0; k < sh.k; k++ {
			a := A[row*sh.k+k]
			b := B[k*sh.n : (k+1)*sh.n]
			for col := range c {
				c[col] += a * b[col]
			}
		}
	}
	return C
}

// accumulate is the result bits, [thread][reg]: the accumulator going in
// (scale-d = 1; the latest in-flight result, else the register) plus C,
// rounded once to f32; for FP8, truncated to Options.FP8AccumBits when
// set, Hopper's FP8 accumulation being narrower than f32.
func accumulate(c *cta, g *warpgroup, sh *mmaShape, regs []int32, C []float64, scaleD bool, latest []*mmaOp, latestAt []int) []uint64 {
	nr := len(regs)
	vals := make([]uint64, 128*nr)
	fp8 := sh.elemSize == 1
	for t := 0; t < 128; t++ {
		wg := g.warps[t/warpSize]
		l := t % warpSize
		for j, r := range regs {
			row, col := FragmentRowCol(t, j)
			acc := 0.0
			if scaleD {
				var bitsIn uint64
				if p := latest[j]; p != nil {
					bitsIn = p.vals[t*nr+latestAt[j]]
				} else {
					bitsIn = wg.reg(r)[l]
				}
				acc = float64(f32frombits(uint32(bitsIn)))
			}
			res := float32(acc + C[row*sh.n+col])
			if fp8 && c.l.fp8Bits > 0 {
				res = truncMantissa(res, c.l.fp8Bits)
			}
			vals[t*nr+j] = res32(res)
		}
	}
	return vals
}

// fragmentA gathers A [64][K] from the warpgroup's A fragment registers
// (docs/ptx-isa-notes.md §10.7): 16-bit types hold element 2r in the low
// half of register r and 2r+1 in the high half; FP8 holds 4r..4r+3 in
// bytes 0..3. Element i of thread t sits at
//
//	16-bit: row 16w + l/4 + 8·((i>>1)&1), k 8·(i>>2) + 2·(l%4) + (i&1)
//	FP8:    row 16w + l/4 + 8·((i>>2)&1), k 16·(i>>3) + 4·(l%4) + (i&3)
func fragmentA(g *warpgroup, sh *mmaShape, A []float64) {
	per := 4 / sh.elemSize // elements per register
	for t := 0; t < 128; t++ {
		wp, l := t/warpSize, t%warpSize
		w := g.warps[wp]
		for i := 0; i < 4*per; i++ {
			v := w.reg(sh.aRegs[i/per])[l] >> (8 * sh.elemSize * (i % per))
			var row, k int
			if sh.elemSize == 2 {
				row = 16*wp + l/4 + 8*(i>>1&1)
				k = 8*(i>>2) + 2*(l%4) + i&1
			} else {
				row = 16*wp + l/4 + 8*(i>>2&1)
				k = 16*(i>>3) + 4*(l%4) + i&3
			}
			A[row*sh.k+k] = readFloat(sh.atype, v&(1<<(8*sh.elemSize)-1))
		}
	}
}

func indexOf(s []int32, v int32) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// truncMantissa keeps the top n bits of f's 23-bit mantissa (toward zero).
func truncMantissa(f float32, n int) float32 {
	if n >= 23 || f != f || math.IsInf(float64(f), 0) {
		return f
	}
	b := f32bits(f)
	return f32frombits(b &^ (1<<(23-n) - 1))
}
