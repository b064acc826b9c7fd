package emu

import (
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

func init() {
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
