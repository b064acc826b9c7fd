package emu

import (
	"fmt"
	"math/bits"
)

// The execution model: a CTA's threads are warps of 32 lanes; each
// instruction is applied to the active lanes of one warp, in a loop over
// the warp's register file. When a branch splits a warp, its lanes
// reconverge at the branch's immediate post-dominator, as the code ptxas
// generates does (a reconvergence stack: cfg.go); until then each side
// runs in turn. A CTA's warps interleave in an order drawn from a seeded
// generator, so a race between warps changes what is read across seeds.

const (
	warpSize = 32
	fullMask = 0xffffffff
)

// execFn applies an instruction to the lanes in m.
type execFn func(w *warp, in *inst, m uint32)

type instKind uint8

const (
	kPlain   instKind = iota
	kBranch           // bra: target in inst.target
	kExit             // ret, exit
	kBarrier          // bar.sync / barrier.sync: waits for the CTA's barrier
	kGroup            // wgmma.*: a rendezvous of the warpgroup's four warps
)

// space is a state space.
type space uint8

const (
	spGeneric space = iota
	spGlobal
	spShared
	spParam
	spLocal
	spConst
)

var spaceNames = [...]string{"generic", "global", "shared", "param", "local", "const"}

func (s space) String() string { return spaceNames[s] }

// inst is a decoded instruction: everything execution needs, resolved to
// register indices once, when the kernel is loaded.
type inst struct {
	exec     execFn
	kind     instKind
	op       string // the opcode as written: "add.s64"
	text     string // the whole statement, for reports
	line     int
	guard    int32 // predicate register guarding it, -1 for none
	guardNeg bool
	dst      []int32 // destination registers (-1: the sink "_")
	src      []int32 // source registers (immediates live in constant registers)
	// Memory operands: address register (its value plus off), state space,
	// bytes per element, vector length.
	addr  int32
	off   int64
	space space
	size  int
	vec   int
	typ   ptype // the instruction's (first) type
	typ2  ptype // cvt's source type
	// store: the source registers are values written to memory (an
	// undefined value there is reported); uni: bra.uni.
	store  bool
	uni    bool
	target int32
	// op-specific constants (shift widths, comparison, modes, wgmma shape).
	aux  [4]int64
	data any // op-specific decoded data (wgmma)
}

// code is a kernel's decoded body.
type code struct {
	insts    []inst
	nregs    int
	regNames []string
	regType  []string
	rpc      []int32    // per branch: where its lanes reconverge (-1: at exit)
	consts   []constReg // constant registers: immediates, symbol addresses
	specials []specialReg
}

// constReg holds an immediate (or, when sym is set, the address of a
// module global resolved when the module is loaded) in every lane.
type constReg struct {
	reg int32
	val uint64
	sym string
}

// specialReg is a special register (%tid.x, ...) materialised per warp.
type specialReg struct {
	reg  int32
	name string
}

// warp is 32 lanes of one CTA.
type warp struct {
	cta *cta
	id  int // warp index in the CTA
	r   []uint64
	// Sanitizer state: per register, the lanes whose value is defined
	// (poison propagates through arithmetic; it is reported where it
	// reaches an address, a store, a branch or a wgmma), the serial of its
	// last write (wgmma.fence checks), and whether an in-flight wgmma owns
	// it.
	def   []uint32
	lastW []uint64
	busy  []uint8 // busyAcc, busyA: owned by an in-flight wgmma
	nbusy int
	// stack holds the warp's paths: the top runs, the entries below wait
	// at their reconvergence point (rpc) with the lanes that will join.
	stack    []path
	exists   uint32 // lanes that are threads of the CTA
	exited   uint32
	blocked  uint32 // lanes waiting at a barrier or a warpgroup rendezvous
	waitPC   int32
	waitKind instKind
	serial   uint64 // instructions this warp executed
	// lastFence is the serial of its last wgmma.fence.
	lastFence uint64
	// yield ends the warp's turn (a failed mbarrier wait lets others run).
	yield bool
	// Each lane's cp.async and bulk async-groups.
	cpAsync, bulkAsync [warpSize]laneAsync
	// the global span it last touched: [spanLo, spanHi) of lastAlloc,
	// writable when spanW (empty at the start of a CTA)
	lastAlloc      *allocation
	spanLo, spanHi uint64
	spanW          bool
}

// path is lanes at one PC that reconverge with the path below at rpc (-1:
// never; they exit).
type path struct {
	pc, rpc int32
	mask    uint32
}

func (w *warp) reg(i int32) *[warpSize]uint64 {
	return (*[warpSize]uint64)(w.r[int(i)*warpSize : int(i)*warpSize+warpSize])
}

// runnable is the lanes of the running path that can go on (finished
// paths are popped first).
func (w *warp) runnable() uint32 {
	for len(w.stack) > 0 {
		top := w.stack[len(w.stack)-1]
		if top.mask&^w.exited != 0 && top.pc != top.rpc {
			return top.mask &^ (w.exited | w.blocked)
		}
		w.stack = w.stack[:len(w.stack)-1]
	}
	return 0
}

// guardMask is the lanes of m whose guard predicate holds.
func (w *warp) guardMask(in *inst, m uint32) uint32 {
	if in.guard < 0 {
		return m
	}
	p := w.reg(in.guard)
	var g uint32
	for s := m; s != 0; s &= s - 1 {
		l := bits.TrailingZeros32(s)
		if (p[l]&1 != 0) != in.guardNeg {
			g |= 1 << l
		}
	}
	if w.cta.l.sanitize && w.def[in.guard]&m != m {
		w.report(in, m&^w.def[in.guard], KindUndefined, "the guard predicate %s is undefined", w.cta.l.k.code.regNames[in.guard])
	}
	return g
}

// run executes up to budget instructions of the warp; it returns early
// when every lane has exited or waits.
func (w *warp) run(budget int) {
	l := w.cta.l
	cd := l.k.code
	insts := cd.insts
	for ; budget > 0; budget-- {
		if len(w.stack) == 0 {
			return
		}
		top := &w.stack[len(w.stack)-1]
		live := top.mask &^ w.exited
		if live == 0 || top.pc == top.rpc {
			w.stack = w.stack[:len(w.stack)-1] // join the path below
			continue
		}
		m := live &^ w.blocked
		if m != live || m == 0 {
			return // waiting at a barrier or a rendezvous
		}
		pc := top.pc
		if pc < 0 || int(pc) >= len(insts) {
			// Falling off the end of a kernel is an exit.
			w.exit(m)
			continue
		}
		in := &insts[pc]
		w.serial++
		if w.cta.counts != nil {
			w.cta.counts[pc]++
		}
		if w.serial > l.maxSteps {
			w.report(in, m, KindHang, "warp %d executed more than %d instructions (an endless loop?)", w.id, l.maxSteps)
			w.exit(w.exists)
			return
		}
		em := w.guardMask(in, m)
		switch in.kind {
		case kPlain:
			if em != 0 {
				if l.sanitize {
					w.checkOperands(in, em)
				}
				in.exec(w, in, em)
				if l.sanitize {
					w.markWritten(in, em)
				}
			}
			top.pc++
			if w.yield {
				w.yield = false
				return
			}
		case kBranch:
			switch em {
			case m:
				top.pc = in.target
			case 0:
				top.pc++
			default:
				if in.uni {
					w.report(in, m, KindDivergence, "bra.uni: the lanes of the warp disagree on the branch (%d of %d take it)", bits.OnesCount32(em), bits.OnesCount32(m))
				}
				w.split(pc, in.target, em, m&^em, cd.rpc[pc])
			}
		case kExit:
			top.pc++
			w.exit(em)
		case kBarrier:
			top.pc++
			if em == 0 {
				continue
			}
			if em != m || m != w.exists&^w.exited {
				w.report(in, m, KindBarrier, "%s is aligned: every thread of the warp must execute it together, but %d of its %d live threads do (divergent barrier)", in.op, bits.OnesCount32(em), bits.OnesCount32(w.exists&^w.exited))
			}
			w.blocked |= em
			w.waitPC, w.waitKind = pc, kBarrier
			w.cta.arrive(w, in, em)
			if w.blocked != 0 {
				return
			}
		case kGroup:
			top.pc++
			if em != m || m != w.exists {
				w.report(in, m, KindDivergence, "%s is .sync.aligned over the warpgroup: all 32 threads of warp %d must execute it, %d do", in.op, w.id, bits.OnesCount32(em))
			}
			w.blocked |= m
			w.waitPC, w.waitKind = pc, kGroup
			w.cta.groupArrive(w)
			if w.blocked != 0 {
				return
			}
		}
	}
}

// split diverges the top path at the branch at pc: the lanes in taken go
// to target, the others fall through, and both rejoin at rpc.
func (w *warp) split(pc, target int32, taken, rest uint32, rpc int32) {
	top := &w.stack[len(w.stack)-1]
	if top.rpc == rpc {
		// Same reconvergence point as the path itself (a loop's exit
		// test): the path continues with the lanes that stay.
		top.pc, top.mask = pc+1, rest
	} else {
		top.pc = rpc
		w.stack = append(w.stack, path{pc: pc + 1, rpc: rpc, mask: rest})
	}
	w.stack = append(w.stack, path{pc: target, rpc: rpc, mask: taken})
}

// exit retires lanes.
func (w *warp) exit(m uint32) {
	if m == 0 {
		return
	}
	w.exited |= m
	w.cta.exited(w)
}

// checkOperands reports undefined addresses and stored values, and
// accesses to registers an in-flight wgmma owns.
func (w *warp) checkOperands(in *inst, m uint32) {
	names := w.cta.l.k.code.regNames
	if in.addr >= 0 && w.def[in.addr]&m != m {
		w.report(in, m&^w.def[in.addr], KindUndefined, "the address register %s is undefined", names[in.addr])
	}
	if in.store {
		for _, s := range in.src {
			if w.def[s]&m != m {
				w.report(in, m&^w.def[s], KindUndefined, "stores the undefined register %s", names[s])
				break
			}
		}
	}
	if w.nbusy > 0 {
		for _, s := range in.src {
			if w.busy[s]&busyAcc != 0 {
				w.report(in, m, KindWGMMA, "reads %s, an accumulator of a wgmma.mma_async still in flight (no wgmma.wait_group since it was issued)", names[s])
			}
		}
		for _, d := range in.dst {
			if d >= 0 && w.busy[d]&busyAcc != 0 {
				w.report(in, m, KindWGMMA, "writes %s, an accumulator of a wgmma.mma_async still in flight (no wgmma.wait_group since it was issued)", names[d])
			}
			if d >= 0 && w.busy[d]&busyA != 0 {
				w.report(in, m, KindWGMMA, "writes %s, an A fragment of a wgmma.mma_async still in flight (no wgmma.wait_group since it was issued)", names[d])
			}
		}
	}
}

// markWritten propagates definedness to the destinations: a lane's result
// is defined when every source (and address) of the lane was.
func (w *warp) markWritten(in *inst, m uint32) {
	dm := m
	for _, s := range in.src {
		dm &= w.def[s]
	}
	if in.addr >= 0 {
		dm &= w.def[in.addr]
	}
	for _, d := range in.dst {
		if d < 0 {
			continue
		}
		w.def[d] = w.def[d]&^m | dm
		w.lastW[d] = w.serial
	}
}

// threadOf is lane's thread index in the CTA, as (x, y, z).
func (w *warp) threadOf(lane int) [3]uint32 {
	b := w.cta.l.block
	t := uint32(w.id*warpSize + lane)
	return [3]uint32{t % b[0], t / b[0] % b[1], t / (b[0] * b[1])}
}

// report records a sanitizer finding at the first lane of m.
func (w *warp) report(in *inst, m uint32, kind Kind, format string, args ...any) {
	lane := 0
	if m != 0 {
		lane = bits.TrailingZeros32(m)
	}
	f := Finding{
		Kind:   kind,
		Kernel: w.cta.l.k.Name,
		Line:   in.line,
		Inst:   in.text,
		CTA:    w.cta.id,
		Thread: w.threadOf(lane),
		Msg:    fmt.Sprintf(format, args...),
	}
	w.cta.l.rep.add(f)
}
