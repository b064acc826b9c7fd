package emu

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
)

// Tensor copies (docs/ptx-isa-notes.md §11.2): cp.async.bulk.tensor moves
// a box of a tensor, described by a tensor map (tensormap.go), between
// global and shared memory, queued and completed like every asynchronous
// copy (async.go).

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
