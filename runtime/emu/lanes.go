package emu

import "math/bits"

// Lane loops: every instruction applies a function of its operands to
// each lane in the execution mask. A full warp takes the loop without
// mask tests.

func unary(f func(a uint64) uint64) execFn {
	return func(w *warp, in *inst, m uint32) {
		d, a := w.reg(in.dst[0]), w.reg(in.src[0])
		if m == fullMask {
			for l := 0; l < warpSize; l++ {
				d[l] = f(a[l])
			}
			return
		}
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			d[l] = f(a[l])
		}
	}
}

func binop(f func(a, b uint64) uint64) execFn {
	return func(w *warp, in *inst, m uint32) {
		d, a, b := w.reg(in.dst[0]), w.reg(in.src[0]), w.reg(in.src[1])
		if m == fullMask {
			for l := 0; l < warpSize; l++ {
				d[l] = f(a[l], b[l])
			}
			return
		}
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			d[l] = f(a[l], b[l])
		}
	}
}

func ternary(f func(a, b, c uint64) uint64) execFn {
	return func(w *warp, in *inst, m uint32) {
		d, a, b, c := w.reg(in.dst[0]), w.reg(in.src[0]), w.reg(in.src[1]), w.reg(in.src[2])
		if m == fullMask {
			for l := 0; l < warpSize; l++ {
				d[l] = f(a[l], b[l], c[l])
			}
			return
		}
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			d[l] = f(a[l], b[l], c[l])
		}
	}
}

func quaternary(f func(a, b, c, e uint64) uint64) execFn {
	return func(w *warp, in *inst, m uint32) {
		d, a, b, c, e := w.reg(in.dst[0]), w.reg(in.src[0]), w.reg(in.src[1]), w.reg(in.src[2]), w.reg(in.src[3])
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			d[l] = f(a[l], b[l], c[l], e[l])
		}
	}
}

// regs decodes n source operands of type t.
func (d *decoder) srcs(args []string, t ptype) ([]int32, error) {
	out := make([]int32, len(args))
	for i, a := range args {
		r, err := d.src(a, t)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// simple decodes "op d, a[, b[, c]]" with n sources of type t.
func (d *decoder) simple(in *inst, args []string, n int, t ptype) error {
	ts := make([]ptype, n)
	for i := range ts {
		ts[i] = t
	}
	return d.typed(in, args, ts...)
}

// typed decodes "op d, a, b, ..." where source i has type ts[i].
func (d *decoder) typed(in *inst, args []string, ts ...ptype) error {
	if err := need(args, len(ts)+1); err != nil {
		return err
	}
	r, err := d.dst(args[0])
	if err != nil {
		return err
	}
	if r < 0 {
		return errSink
	}
	in.dst = []int32{r}
	in.src = make([]int32, len(ts))
	for i, t := range ts {
		if in.src[i], err = d.src(args[i+1], t); err != nil {
			return err
		}
	}
	return nil
}
