package emu

import (
	"fmt"
	"math/bits"
	"sort"
	"strings"

	"github.com/deepc-dev/deepc/runtime"
)

// Global memory is a set of allocations at addresses that look like a
// GPU's, separated by unmapped gaps so that an access just past one is
// caught; each byte has an init shadow (written since allocation).

const (
	globalBase = 0x7f0000000000
	allocAlign = 256
	redZone    = 4096
)

type allocation struct {
	base, size uint64
	data       []byte
	init       []byte // 1: written
	name       string // what it is, for reports
	module     bool   // a module's .global variable (not a launch argument)
}

type memory struct {
	allocs []*allocation // sorted by base
	next   uint64
	bytes  uint64
}

func (m *memory) alloc(size uint64, name string) (*allocation, error) {
	if size > 1<<40 {
		return nil, fmt.Errorf("allocation of %d bytes is beyond the emulator's address space", size)
	}
	// The emulator holds each byte twice (data and its initialised mark)
	// in host memory, which the memory budget bounds.
	if err := runtime.CheckBudget("an emulated device allocation (data and init marks)", 2*int64(size)); err != nil {
		return nil, err
	}
	if m.next == 0 {
		m.next = globalBase
	}
	a := &allocation{base: m.next, size: size, data: make([]byte, size), init: make([]byte, size), name: name}
	m.next += (max(size, 1)+allocAlign-1)&^(allocAlign-1) + redZone
	m.allocs = append(m.allocs, a) // bases increase
	m.bytes += size
	return a, nil
}

// find is the allocation holding addr.
func (m *memory) find(addr uint64) *allocation {
	i := sort.Search(len(m.allocs), func(i int) bool { return m.allocs[i].base+m.allocs[i].size > addr })
	if i < len(m.allocs) && m.allocs[i].base <= addr {
		return m.allocs[i]
	}
	return nil
}

func (m *memory) free(base uint64) error {
	i := sort.Search(len(m.allocs), func(i int) bool { return m.allocs[i].base >= base })
	if i >= len(m.allocs) || m.allocs[i].base != base {
		return fmt.Errorf("free of %#x: not the start of an allocation", base)
	}
	m.bytes -= m.allocs[i].size
	m.allocs = append(m.allocs[:i], m.allocs[i+1:]...)
	return nil
}

// span is addr..addr+n inside one allocation, or an error saying why not.
func (m *memory) span(addr, n uint64) ([]byte, *allocation, error) {
	a := m.find(addr)
	if a == nil || addr+n > a.base+a.size {
		return nil, nil, fmt.Errorf("%d bytes at %#x are not inside one allocation", n, addr)
	}
	return a.data[addr-a.base : addr-a.base+n], a, nil
}

// view is a range of global memory a launch may touch: a tensor argument
// (read-only unless an output) or a module global.
type view struct {
	lo, hi uint64
	write  bool
	name   string
}

// describe says where addr is relative to the allocations, for reports.
func (m *memory) describe(addr uint64) string {
	a := m.find(addr)
	if a != nil {
		return fmt.Sprintf("offset %d of %s (%d bytes at %#x)", addr-a.base, a.name, a.size, a.base)
	}
	i := sort.Search(len(m.allocs), func(i int) bool { return m.allocs[i].base > addr })
	if i > 0 {
		p := m.allocs[i-1]
		return fmt.Sprintf("%d bytes past the end of %s (%d bytes at %#x)", addr-(p.base+p.size), p.name, p.size, p.base)
	}
	return "in no allocation"
}

// global returns the n bytes at addr for a lane's access, or nil after
// reporting why the access is invalid. The warp caches the span it last
// touched (an allocation, or the part of it one tensor argument covers),
// so most accesses take the first branch.
func (w *warp) global(in *inst, lane int, addr uint64, n int, write bool) []byte {
	end := addr + uint64(n)
	if addr&uint64(n-1) == 0 && addr >= w.spanLo && end <= w.spanHi && (!write || w.spanW) {
		a := w.lastAlloc
		off := addr - a.base
		b := a.data[off : off+uint64(n)]
		sh := a.init[off : off+uint64(n)]
		if write {
			for i := range sh {
				sh[i] = 1
			}
		} else if w.cta.l.sanitize {
			for i := range sh {
				if sh[i] == 0 {
					w.report(in, 1<<lane, KindUninitialized, "reads %d bytes at %#x (%s) never written since allocation", n, addr, w.cta.l.mem.describe(addr+uint64(i)))
					break
				}
			}
		}
		return b
	}
	if !w.findSpan(in, lane, addr, n, write) {
		return nil
	}
	return w.global(in, lane, addr, n, write)
}

// globalSpan is the warp's cached allocation when every lane of m
// accesses n aligned bytes at base+off inside the cached span (writable
// for a write), with initialised bytes for a read when sanitizing, and
// marks a write's bytes initialised; nil when any lane needs the full
// check (global).
func (w *warp) globalSpan(base *[warpSize]uint64, off int64, m uint32, n int, write bool) *allocation {
	a := w.lastAlloc
	if a == nil || write && !w.spanW {
		return nil
	}
	lo, hi := w.spanLo, w.spanHi
	for s := m; s != 0; s &= s - 1 {
		addr := base[bits.TrailingZeros32(s)] + uint64(off)
		if addr&uint64(n-1) != 0 || addr < lo || addr+uint64(n) > hi {
			return nil
		}
	}
	if write {
		for s := m; s != 0; s &= s - 1 {
			o := base[bits.TrailingZeros32(s)] + uint64(off) - a.base
			for i := o; i < o+uint64(n); i++ {
				a.init[i] = 1
			}
		}
		return a
	}
	if w.cta.l.sanitize {
		for s := m; s != 0; s &= s - 1 {
			o := base[bits.TrailingZeros32(s)] + uint64(off) - a.base
			for i := o; i < o+uint64(n); i++ {
				if a.init[i] == 0 {
					return nil // the full check reports it
				}
			}
		}
	}
	return a
}

// findSpan checks an access that missed the warp's cached span and caches
// the span that holds it; false after reporting an invalid access.
func (w *warp) findSpan(in *inst, lane int, addr uint64, n int, write bool) bool {
	l := w.cta.l
	if addr&uint64(n-1) != 0 {
		w.report(in, 1<<lane, KindMisaligned, "%d-byte %s at %#x is not %d-byte aligned", n, accessWord(write), addr, n)
		return false
	}
	end := addr + uint64(n)
	a := l.mem.find(addr)
	if a == nil || end > a.base+a.size {
		where := l.mem.describe(addr)
		if l.views != nil {
			where += "; " + l.nearestView(addr)
		}
		w.report(in, 1<<lane, KindOutOfBounds, "%d-byte global %s at %#x: %s", n, accessWord(write), addr, where)
		return false
	}
	lo, hi, writable := a.base, a.base+a.size, true
	if l.views != nil && !a.module {
		v := -1
		for i := range l.views {
			if addr >= l.views[i].lo && end <= l.views[i].hi && (v < 0 || write && l.views[i].write) {
				v = i
			}
		}
		if v < 0 {
			w.report(in, 1<<lane, KindOutOfBounds, "%d-byte global %s at %#x is outside every tensor passed to the kernel (%s)", n, accessWord(write), addr, l.nearestView(addr))
			return false
		}
		if write && !l.views[v].write {
			w.report(in, 1<<lane, KindReadOnly, "writes %d bytes at %#x into %s, an input of the kernel", n, addr, l.views[v].name)
			return false
		}
		lo, hi, writable = max(lo, l.views[v].lo), min(hi, l.views[v].hi), l.views[v].write
	}
	w.lastAlloc, w.spanLo, w.spanHi, w.spanW = a, lo, hi, writable
	return true
}

// nearestView names the tensor argument closest to addr.
func (l *launch) nearestView(addr uint64) string {
	best, dist := "", ^uint64(0)
	for _, v := range l.views {
		var d uint64
		var where string
		switch {
		case addr >= v.hi:
			d, where = addr-v.hi, fmt.Sprintf("%d bytes past the end of %s", addr-v.hi, v.name)
		case addr < v.lo:
			d, where = v.lo-addr, fmt.Sprintf("%d bytes before %s", v.lo-addr, v.name)
		}
		if d < dist {
			best, dist = where, d
		}
	}
	if best == "" {
		return "no tensor arguments"
	}
	return best
}

func accessWord(write bool) string {
	if write {
		return "store"
	}
	return "load"
}

// sharedAt returns the n bytes at shared address addr for a lane's access,
// checking bounds, alignment, initialisation and races with other warps
// since the last barrier; nil after reporting an invalid access.
func (w *warp) sharedAt(in *inst, lane int, addr uint64, n int, write, atomic bool) []byte {
	c := w.cta
	if addr&uint64(n-1) != 0 {
		w.report(in, 1<<lane, KindMisaligned, "%d-byte shared %s at %#x is not %d-byte aligned", n, accessWord(write), addr, n)
		return nil
	}
	if addr+uint64(n) > uint64(len(c.shared)) {
		w.report(in, 1<<lane, KindOutOfBounds, "%d-byte shared %s at %#x: the CTA has %d bytes of shared memory (%s)", n, accessWord(write), addr, len(c.shared), c.l.k.sharedName(addr))
		return nil
	}
	b := c.shared[addr : addr+uint64(n)]
	if !c.l.sanitize {
		return b
	}
	id := int16(w.id)
	for i := addr; i < addr+uint64(n); i++ {
		if c.asyncW[i] != 0 {
			w.report(in, 1<<lane, KindAsync, "%s shared %s while an asynchronous copy is still writing it (wait on its group or mbarrier first)", strings.ToLower(accessWord(write))+"s", c.l.k.sharedName(i))
		}
		if write && c.asyncR[i] != 0 {
			w.report(in, 1<<lane, KindAsync, "writes shared %s while a bulk copy out of it is still reading it (cp.async.bulk.wait_group.read first)", c.l.k.sharedName(i))
		}
		if c.mbarMem[i] {
			w.report(in, 1<<lane, KindAsync, "an ordinary %s of shared %s, which holds an mbarrier (only mbarrier instructions may touch it)", accessWord(write), c.l.k.sharedName(i))
		}
		if write {
			if !atomic {
				if c.wEpoch[i] == c.epoch && c.wWarp[i] != id {
					w.reportRace(in, lane, i, "writes", "wrote", int(c.wWarp[i]))
				} else if c.rEpoch[i] == c.epoch && c.rWarp[i] != id {
					w.reportRace(in, lane, i, "writes", "read", int(c.rWarp[i]))
				}
				c.wEpoch[i], c.wWarp[i] = c.epoch, id
			}
			if c.pend[i] != 0 {
				w.report(in, 1<<lane, KindWGMMA, "writes shared %s while a wgmma.mma_async reading it is in flight (wait with wgmma.wait_group first)", c.l.k.sharedName(i))
			}
			c.init[i] = c.serial
			c.wFence[i] = c.fences + 1
			continue
		}
		if c.init[i] != c.serial {
			w.report(in, 1<<lane, KindUninitialized, "reads shared %s, never written by this CTA", c.l.k.sharedName(i))
			break
		}
		if !atomic && c.wEpoch[i] == c.epoch && c.wWarp[i] != id {
			w.reportRace(in, lane, i, "reads", "wrote", int(c.wWarp[i]))
		}
		switch {
		case c.rEpoch[i] != c.epoch:
			c.rEpoch[i], c.rWarp[i] = c.epoch, id
		case c.rWarp[i] != id:
			c.rWarp[i] = -2
		}
	}
	return b
}

func (w *warp) reportRace(in *inst, lane int, addr uint64, does, did string, other int) {
	who := fmt.Sprintf("warp %d", other)
	if other == -2 {
		who = "other warps"
	}
	w.report(in, 1<<lane, KindRace, "warp %d %s shared %s, which %s %s since the last barrier (no bar.sync orders them)", w.id, does, w.cta.l.k.sharedName(addr), who, did)
}

// sharedName names the shared variable holding addr.
func (k *Kernel) sharedName(addr uint64) string {
	for _, v := range k.Shared {
		if addr >= v.Offset && addr < v.Offset+uint64(v.Size) {
			return fmt.Sprintf("%s+%d (offset %#x)", v.Name, addr-v.Offset, addr)
		}
	}
	return fmt.Sprintf("offset %#x", addr)
}
