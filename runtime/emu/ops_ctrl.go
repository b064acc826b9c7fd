package emu

import (
	"fmt"
	"math/bits"
	"strings"
)

// Control flow, barriers, fences and warp-level data exchange
// (docs/ptx-isa-notes.md, "Control flow", "Synchronisation", "Warp").

func init() {
	builders["bra"] = buildBra
	builders["ret"] = buildExit
	builders["exit"] = buildExit
	builders["bar"] = buildBar
	builders["barrier"] = buildBar
	builders["membar"] = buildFence
	builders["fence"] = buildFence
	builders["shfl"] = buildShfl
	builders["vote"] = buildVote
}

func buildBra(d *decoder, in *inst, o *opc, args []string) error {
	if err := o.only("uni"); err != nil {
		return err
	}
	if err := need(args, 1); err != nil {
		return err
	}
	in.kind = kBranch
	in.uni = o.has("uni")
	d.branchTo(args[0], in.line)
	return nil
}

func buildExit(d *decoder, in *inst, o *opc, args []string) error {
	if err := o.only(); err != nil {
		return err
	}
	if len(args) != 0 {
		return fmt.Errorf("takes no operands")
	}
	in.kind = kExit
	return nil
}

// buildBar: bar.sync a[, b] / barrier.sync.aligned a[, b]: wait until b
// threads (all of the CTA when absent) have arrived at barrier a. Both
// forms here are aligned: the whole warp executes them together.
func buildBar(d *decoder, in *inst, o *opc, args []string) error {
	if err := o.only("sync", "aligned"); err != nil {
		return err
	}
	if !o.has("sync") {
		return fmt.Errorf("only the .sync form is implemented (bar.arrive/red are not)")
	}
	if o.base == "barrier" && !o.has("aligned") {
		return fmt.Errorf("barrier.sync without .aligned (per-thread arrival) is not implemented")
	}
	if len(args) != 1 && len(args) != 2 {
		return fmt.Errorf("%d operands", len(args))
	}
	in.kind = kBarrier
	if id, err := parseIntLit(args[0]); err == nil {
		in.aux[0] = int64(id)
	} else {
		r, err := d.src(args[0], tU32)
		if err != nil {
			return err
		}
		in.aux[0], in.aux[2] = int64(r), 1
	}
	if len(args) == 2 {
		n, err := parseIntLit(args[1])
		if err != nil {
			return fmt.Errorf("a register thread count is not implemented")
		}
		if n == 0 || n%warpSize != 0 || n > maxThreadsPerBlock {
			return fmt.Errorf("thread count %d must be a positive multiple of 32", n)
		}
		in.aux[1] = int64(n)
	}
	return nil
}

// buildFence: membar and fence only order memory; the emulator's memory is
// sequentially consistent within a CTA, so they compute nothing.
// fence.proxy.async is recorded: the sanitizer checks that shared memory
// written by ordinary stores is fenced before a wgmma reads it.
func buildFence(d *decoder, in *inst, o *opc, args []string) error {
	in.exec = func(w *warp, in *inst, m uint32) {}
	switch {
	case strings.HasPrefix(o.text, "fence.proxy.async") || o.text == "membar.proxy.async" || strings.HasPrefix(o.text, "membar.proxy.async."):
		if len(args) != 0 {
			return fmt.Errorf("takes no operands")
		}
		in.exec = func(w *warp, in *inst, m uint32) { w.cta.fences++ }
		return nil
	case strings.HasPrefix(o.text, "fence.proxy.tensormap::generic"):
		// Orders tensor-map writes with the tensormap proxy's reads: the
		// emulator reads maps when a copy is issued, so nothing to do.
		// The acquire form names the map: [addr], 128.
		for _, m := range o.order {
			switch m {
			case "proxy", "tensormap::generic", "acquire", "release", "cta", "gpu", "sys":
			default:
				return fmt.Errorf("modifier .%s is not implemented", m)
			}
		}
		if o.has("acquire") {
			if err := need(args, 2); err != nil {
				return err
			}
			if n, err := parseIntLit(args[1]); err != nil || n != 128 {
				return fmt.Errorf("the size operand must be 128")
			}
			var err error
			if in.addr, in.off, err = d.mem(args[0], spGeneric); err != nil {
				return err
			}
			return nil
		}
		if len(args) != 0 {
			return fmt.Errorf("takes no operands")
		}
		return nil
	case strings.Contains(o.text, "proxy"):
		return fmt.Errorf("%s is not implemented", o.text)
	}
	if len(args) != 0 {
		return fmt.Errorf("takes no operands")
	}
	for _, m := range o.order {
		switch m {
		case "cta", "gl", "sys", "gpu", "sc", "acq_rel", "cluster":
		default:
			return fmt.Errorf("modifier .%s is not implemented", m)
		}
	}
	return nil
}

// buildShfl: shfl.sync.mode.b32 d[|p], a, b, c, membermask. c packs the
// clamp value (bits 0-4) and the segment mask (bits 8-12); a source lane
// outside the segment reads the lane's own a and sets p false.
func buildShfl(d *decoder, in *inst, o *opc, args []string) error {
	if _, err := oneType(o, tB32); err != nil {
		return err
	}
	mode := ""
	for _, m := range o.order {
		switch m {
		case "up", "down", "bfly", "idx":
			mode = m
		case "sync":
		default:
			return fmt.Errorf("modifier .%s is not implemented", m)
		}
	}
	if mode == "" || !o.has("sync") {
		return fmt.Errorf("want shfl.sync with a mode")
	}
	if err := need(args, 5); err != nil {
		return err
	}
	ds := splitPipe(args[0])
	r, err := d.dst(ds[0])
	if err != nil {
		return err
	}
	in.dst = []int32{r}
	if len(ds) == 2 {
		p, err := d.dst(ds[1])
		if err != nil {
			return err
		}
		in.dst = append(in.dst, p)
	}
	if in.src, err = d.srcs(args[1:], tB32); err != nil {
		return err
	}
	in.exec = func(w *warp, in *inst, m uint32) {
		a, b, c, mk := w.reg(in.src[0]), w.reg(in.src[1]), w.reg(in.src[2]), w.reg(in.src[3])
		var out, pred [warpSize]uint64
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			member := uint32(mk[l])
			if member&(1<<l) == 0 {
				w.report(in, 1<<l, KindDivergence, "lane %d executes shfl.sync but is not in its membermask %#x", l, member)
			}
			if live := member &^ w.exited; live&m != live {
				w.report(in, 1<<l, KindDivergence, "shfl.sync membermask %#x names lanes that do not execute it with lane %d (executing: %#x)", member, l, m)
			}
			bv := int(b[l] & 31)
			cl := int(c[l] & 31)
			seg := int(c[l] >> 8 & 31)
			maxLane := l&seg | cl&^seg
			minLane := l & seg
			var j int
			ok := false
			switch mode {
			case "up":
				j = l - bv
				ok = j >= maxLane
			case "down":
				j = l + bv
				ok = j <= maxLane
			case "bfly":
				j = l ^ bv
				ok = j <= maxLane
			case "idx":
				j = minLane | bv&^seg
				ok = j <= maxLane
			}
			if !ok {
				j = l
			}
			if m&(1<<j) == 0 {
				w.report(in, 1<<l, KindDivergence, "shfl.sync: lane %d reads lane %d, which does not execute the shuffle (undefined value)", l, j)
			}
			out[l] = a[j] & 0xffffffff
			pred[l] = b2u(ok)
		}
		dd := w.reg(in.dst[0])
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			dd[l] = out[l]
		}
		if len(in.dst) == 2 && in.dst[1] >= 0 {
			dp := w.reg(in.dst[1])
			for s := m; s != 0; s &= s - 1 {
				l := bits.TrailingZeros32(s)
				dp[l] = pred[l]
			}
		}
	}
	return nil
}

// buildVote: vote.sync.{all,any,uni}.pred d, {!}a, membermask and
// vote.sync.ballot.b32 d, {!}a, membermask.
func buildVote(d *decoder, in *inst, o *opc, args []string) error {
	mode := ""
	for _, m := range o.order {
		switch m {
		case "all", "any", "uni", "ballot":
			mode = m
		case "sync":
		default:
			return fmt.Errorf("modifier .%s is not implemented", m)
		}
	}
	if mode == "" || !o.has("sync") || len(o.types) != 1 {
		return fmt.Errorf("want vote.sync with a mode and a type")
	}
	if err := need(args, 3); err != nil {
		return err
	}
	r, err := d.dst(args[0])
	if err != nil {
		return err
	}
	neg := strings.HasPrefix(args[1], "!")
	p, err := d.src(strings.TrimPrefix(args[1], "!"), tPred)
	if err != nil {
		return err
	}
	mk, err := d.src(args[2], tB32)
	if err != nil {
		return err
	}
	in.dst, in.src = []int32{r}, []int32{p, mk}
	in.exec = func(w *warp, in *inst, m uint32) {
		pv := w.reg(in.src[0])
		var ballot uint32
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			if (pv[l]&1 != 0) != neg {
				ballot |= 1 << l
			}
		}
		dd := w.reg(in.dst[0])
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			switch mode {
			case "ballot":
				dd[l] = uint64(ballot)
			case "all":
				dd[l] = b2u(ballot == m)
			case "any":
				dd[l] = b2u(ballot != 0)
			case "uni":
				dd[l] = b2u(ballot == 0 || ballot == m)
			}
		}
	}
	return nil
}

func init() {
	builders["redux"] = buildRedux
	builders["elect"] = buildElect
	builders["setmaxnreg"] = buildSetmaxnreg
}

// buildRedux: redux.sync.{add,min,max}.{u32,s32} and
// redux.sync.{and,or,xor}.b32 d, a, membermask: every lane of the mask
// gets the reduction over the mask's lanes (add wraps to 32 bits).
func buildRedux(d *decoder, in *inst, o *opc, args []string) error {
	op := ""
	for _, m := range o.order {
		switch m {
		case "add", "min", "max", "and", "or", "xor":
			op = m
		case "sync":
		default:
			return fmt.Errorf("modifier .%s is not implemented", m)
		}
	}
	t, err := oneType(o, tU32, tS32, tB32)
	if err != nil {
		return err
	}
	if op == "" || !o.has("sync") || (t == tB32) != (op == "and" || op == "or" || op == "xor") {
		return fmt.Errorf("redux.sync %s.%s is not a valid form", op, t)
	}
	if err := d.simple(in, args, 2, t); err != nil {
		return err
	}
	signed := t == tS32
	in.exec = func(w *warp, in *inst, m uint32) {
		a, mk := w.reg(in.src[0]), w.reg(in.src[1])
		member := uint32(mk[bits.TrailingZeros32(m)])
		// The mask's exited lanes take no part (ISA §9.7.13.12).
		if live := member &^ w.exited; live&m != live || member == 0 {
			w.report(in, m, KindDivergence, "redux.sync membermask %#x names lanes that do not execute it (executing: %#x)", member, m)
		}
		var acc uint64
		first := true
		for s := member & m; s != 0; s &= s - 1 {
			v := a[bits.TrailingZeros32(s)] & 0xffffffff
			switch {
			case first:
				acc = v
			case op == "add":
				acc = (acc + v) & 0xffffffff
			case op == "and":
				acc &= v
			case op == "or":
				acc |= v
			case op == "xor":
				acc ^= v
			case op == "min" && signed:
				if int32(v) < int32(acc) {
					acc = v
				}
			case op == "max" && signed:
				if int32(v) > int32(acc) {
					acc = v
				}
			case op == "min":
				acc = min(acc, v)
			case op == "max":
				acc = max(acc, v)
			}
			first = false
		}
		dd := w.reg(in.dst[0])
		for s := m; s != 0; s &= s - 1 {
			dd[bits.TrailingZeros32(s)] = acc
		}
	}
	return nil
}

// buildElect: elect.sync d|p, membermask: one leader among the mask's
// lanes (the lowest: the ISA only promises a deterministic choice); d is
// its lane id in every lane, p true in the leader alone.
func buildElect(d *decoder, in *inst, o *opc, args []string) error {
	if err := o.only("sync"); err != nil || !o.has("sync") {
		return fmt.Errorf("want elect.sync")
	}
	if err := need(args, 2); err != nil {
		return err
	}
	ds := splitPipe(args[0])
	if len(ds) != 2 {
		return fmt.Errorf("want d|p")
	}
	for _, x := range ds {
		r, err := d.dst(x)
		if err != nil {
			return err
		}
		in.dst = append(in.dst, r)
	}
	mk, err := d.src(args[1], tB32)
	if err != nil {
		return err
	}
	in.src = []int32{mk}
	in.exec = func(w *warp, in *inst, m uint32) {
		member := uint32(w.reg(in.src[0])[bits.TrailingZeros32(m)])
		if live := member &^ w.exited; live&m != live {
			w.report(in, m, KindDivergence, "elect.sync membermask %#x names lanes that do not execute it (executing: %#x)", member, m)
		}
		leader := uint64(bits.TrailingZeros32(member & m))
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			if in.dst[0] >= 0 {
				w.reg(in.dst[0])[l] = leader
			}
			if in.dst[1] >= 0 {
				w.reg(in.dst[1])[l] = b2u(uint64(l) == leader)
			}
		}
	}
	return nil
}

// buildSetmaxnreg: setmaxnreg.{inc,dec}.sync.aligned.u32 n, a register
// budget hint for the warpgroup: n must be a multiple of 8 in 24..256;
// nothing else changes in the emulator.
func buildSetmaxnreg(d *decoder, in *inst, o *opc, args []string) error {
	if err := o.only("inc", "dec", "sync", "aligned"); err != nil {
		return err
	}
	if _, err := oneType(o, tU32); err != nil || !o.has("sync") || !o.has("aligned") || o.has("inc") == o.has("dec") {
		return fmt.Errorf("want setmaxnreg.{inc,dec}.sync.aligned.u32")
	}
	if err := need(args, 1); err != nil {
		return err
	}
	n, err := parseIntLit(args[0])
	if err != nil || n < 24 || n > 256 || n%8 != 0 {
		return fmt.Errorf("register count %s: must be a multiple of 8 in 24..256", args[0])
	}
	in.kind = kGroup
	in.exec = func(w *warp, in *inst, m uint32) {}
	return nil
}
