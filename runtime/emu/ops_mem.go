package emu

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Memory instructions (docs/ptx-isa-notes.md, "Memory"): ld/st of scalars
// and vectors in the global, shared and param spaces, atom and red. An
// access must be aligned to its whole size (a .v4.u32 to 16 bytes). A
// narrower load into a wider register zero-extends (.u/.b) or
// sign-extends (.s).

func init() {
	builders["ld"] = buildLdSt
	builders["st"] = buildLdSt
	builders["atom"] = buildAtom
	builders["red"] = buildAtom
	builders["cvta"] = buildCvta
}

// buildCvta: cvta.{shared,global}.u64 d, a turns a state-space address
// into a generic one; cvta.to.{shared,global}.u64 back.
func buildCvta(d *decoder, in *inst, o *opc, args []string) error {
	if _, err := oneType(o, tU64); err != nil {
		return err
	}
	if err := o.only("to", "shared", "shared::cta", "global", "param"); err != nil {
		return err
	}
	if err := d.simple(in, args, 1, tU64); err != nil {
		return err
	}
	shared := o.has("shared") || o.has("shared::cta")
	switch {
	case shared && o.has("to"):
		in.exec = unary(func(a uint64) uint64 { return a - sharedWindow })
	case shared:
		in.exec = unary(func(a uint64) uint64 { return a + sharedWindow })
	case o.has("global"), o.has("param"):
		// Parameter addresses are generic already (paramWindow).
		in.exec = unary(func(a uint64) uint64 { return a })
	default:
		return fmt.Errorf("want a state space")
	}
	return nil
}

// memSpace reads the state space modifier of a memory instruction.
func memSpace(o *opc) (space, error) {
	sp := spGeneric
	for _, m := range o.order {
		s := spGeneric
		switch m {
		case "global":
			s = spGlobal
		case "shared", "shared::cta":
			s = spShared
		case "param":
			s = spParam
		case "local":
			s = spLocal
		case "const":
			s = spConst
		default:
			continue
		}
		if sp != spGeneric {
			return sp, fmt.Errorf("two state spaces")
		}
		sp = s
	}
	switch sp {
	case spGlobal, spShared, spParam, spGeneric:
		return sp, nil
	}
	return sp, fmt.Errorf("the .%s state space is not implemented", sp)
}

// Generic addresses: global memory as it is, the CTA's shared memory in
// a window at sharedWindow (what cvta.shared gives; ISA §6.4.1.1), the
// kernel's parameters at paramWindow — where mov of a parameter's name
// already puts them, so that cvta.param changes nothing.
const (
	sharedWindow = 0x100000000000
	paramWindow  = 0x200000000000
)

// access returns a lane's n bytes at addr in the instruction's space.
func (w *warp) access(in *inst, lane int, addr uint64, n int, write, atomic bool) []byte {
	switch in.space {
	case spGeneric:
		if addr >= sharedWindow && addr < sharedWindow+1<<32 {
			return w.sharedAt(in, lane, addr-sharedWindow, n, write, atomic)
		}
		if addr >= paramWindow && addr < paramWindow+1<<32 {
			return w.paramAt(in, lane, addr-paramWindow, n, write)
		}
		return w.global(in, lane, addr, n, write)
	case spGlobal:
		return w.global(in, lane, addr, n, write)
	case spShared:
		return w.sharedAt(in, lane, addr, n, write, atomic)
	case spParam:
		if addr >= paramWindow {
			addr -= paramWindow // a parameter's address taken with mov
		}
		return w.paramAt(in, lane, addr, n, write)
	}
	return nil
}

// paramAt is n bytes of the kernel's parameters (read-only).
func (w *warp) paramAt(in *inst, lane int, addr uint64, n int, write bool) []byte {
	p := w.cta.l.params
	if write || addr+uint64(n) > uint64(len(p)) || addr > uint64(len(p)) {
		w.report(in, 1<<lane, KindOutOfBounds, "%d-byte param %s at offset %d: the parameters are %d bytes, read-only", n, accessWord(write), addr, len(p))
		return nil
	}
	return p[addr : addr+uint64(n)]
}

func getLE(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

func putLE(b []byte, v uint64) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, v)
	}
}

func buildLdSt(d *decoder, in *inst, o *opc, args []string) error {
	sp, err := memSpace(o)
	if err != nil {
		return err
	}
	in.space = sp
	vec := 1
	for _, m := range o.order {
		switch m {
		case "v2":
			vec = 2
		case "v4":
			vec = 4
		case "global", "shared", "shared::cta", "param", "nc", "ca", "cg", "cs", "lu", "cv", "wb", "wt", "relaxed", "weak", "cta", "gpu", "sys":
		default:
			return fmt.Errorf("modifier .%s is not implemented", m)
		}
	}
	if o.has("nc") && (o.base != "ld" || sp != spGlobal) {
		return fmt.Errorf(".nc is for global loads")
	}
	if len(o.types) != 1 || o.types[0] == tPred || o.types[0].bytes() == 0 {
		return fmt.Errorf("want one data type")
	}
	t := o.types[0]
	if err := need(args, 2); err != nil {
		return err
	}
	in.typ, in.size, in.vec = t, t.bytes(), vec
	memArg, regArg := args[1], args[0]
	if o.base == "st" {
		memArg, regArg = args[0], args[1]
	}
	if in.addr, in.off, err = d.mem(memArg, sp); err != nil {
		return err
	}
	regs := vector(regArg)
	if len(regs) != vec {
		return fmt.Errorf("%d registers for a vector of %d", len(regs), vec)
	}
	size := in.size
	total := size * vec
	if o.base == "ld" {
		for _, r := range regs {
			x, err := d.dst(r)
			if err != nil {
				return err
			}
			in.dst = append(in.dst, x)
		}
		sx := t.sext
		if vec == 1 && in.dst[0] >= 0 {
			// The common case: one scalar per lane.
			shift := uint(64 - 8*size)
			signed := t.signed()
			in.exec = func(w *warp, in *inst, m uint32) {
				base, d := w.reg(in.addr), w.reg(in.dst[0])
				if in.space == spGlobal {
					if a := w.globalSpan(base, in.off, m, size, false); a != nil {
						// Every lane's access is inside the warp's span:
						// read the bytes directly.
						for s := m; s != 0; s &= s - 1 {
							l := bits.TrailingZeros32(s)
							o := base[l] + uint64(in.off) - a.base
							v := getLE(a.data[o : o+uint64(size)])
							if signed {
								v = uint64(int64(v<<shift) >> shift)
							}
							d[l] = v
						}
						return
					}
				}
				for s := m; s != 0; s &= s - 1 {
					l := bits.TrailingZeros32(s)
					var b []byte
					if in.space == spGlobal {
						b = w.global(in, l, base[l]+uint64(in.off), size, false)
					} else {
						b = w.access(in, l, base[l]+uint64(in.off), size, false, false)
					}
					if b == nil {
						d[l] = 0
						continue
					}
					v := getLE(b)
					if signed {
						v = uint64(int64(v<<shift) >> shift)
					}
					d[l] = v
				}
			}
			return nil
		}
		in.exec = func(w *warp, in *inst, m uint32) {
			base := w.reg(in.addr)
			for s := m; s != 0; s &= s - 1 {
				l := bits.TrailingZeros32(s)
				b := w.access(in, l, base[l]+uint64(in.off), total, false, false)
				for i, r := range in.dst {
					if r < 0 {
						continue
					}
					if b == nil {
						w.reg(r)[l] = 0
						continue
					}
					w.reg(r)[l] = sx(getLE(b[i*size : i*size+size]))
				}
			}
		}
		return nil
	}
	in.store = true
	for _, r := range regs {
		x, err := d.src(r, t)
		if err != nil {
			return err
		}
		in.src = append(in.src, x)
	}
	in.exec = func(w *warp, in *inst, m uint32) {
		base := w.reg(in.addr)
		if in.space == spGlobal && len(in.src) == 1 {
			if a := w.globalSpan(base, in.off, m, size, true); a != nil {
				v := w.reg(in.src[0])
				for s := m; s != 0; s &= s - 1 {
					l := bits.TrailingZeros32(s)
					o := base[l] + uint64(in.off) - a.base
					putLE(a.data[o:o+uint64(size)], v[l])
				}
				return
			}
		}
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			b := w.access(in, l, base[l]+uint64(in.off), total, true, false)
			if b == nil {
				continue
			}
			for i, r := range in.src {
				putLE(b[i*size:i*size+size], w.reg(r)[l])
			}
		}
	}
	return nil
}

// buildAtom: atom/red .space .op .type [d,] [a], b[, c].
func buildAtom(d *decoder, in *inst, o *opc, args []string) error {
	sp, err := memSpace(o)
	if err != nil {
		return err
	}
	if sp == spParam {
		return fmt.Errorf("atomics on params")
	}
	in.space = sp
	op := ""
	for _, m := range o.order {
		switch m {
		case "add", "min", "max", "exch", "cas", "and", "or", "xor":
			if op != "" {
				return fmt.Errorf("two operations")
			}
			op = m
		case "global", "shared", "shared::cta", "relaxed", "acquire", "release", "acq_rel", "cta", "gpu", "sys", "noftz":
		default:
			return fmt.Errorf("modifier .%s is not implemented", m)
		}
	}
	if op == "" || len(o.types) != 1 {
		return fmt.Errorf("want an operation and a type")
	}
	t := o.types[0]
	switch {
	case t == tF32 && op == "add", t == tF64 && op == "add":
	case (t == tU32 || t == tS32 || t == tU64 || t == tS64) && (op == "add" || op == "min" || op == "max"):
	case (t == tB32 || t == tB64) && (op == "exch" || op == "cas" || op == "and" || op == "or" || op == "xor"):
	default:
		return fmt.Errorf("atomic .%s.%s is not implemented", op, t)
	}
	ret := o.base == "atom"
	nsrc := 1
	if op == "cas" {
		nsrc = 2
	}
	want := 1 + nsrc
	if ret {
		want++
	}
	if err := need(args, want); err != nil {
		return err
	}
	if ret {
		r, err := d.dst(args[0])
		if err != nil {
			return err
		}
		in.dst = []int32{r}
		args = args[1:]
	}
	if in.addr, in.off, err = d.mem(args[0], sp); err != nil {
		return err
	}
	if in.src, err = d.srcs(args[1:], t); err != nil {
		return err
	}
	in.store = true
	in.typ, in.size, in.vec = t, t.bytes(), 1
	size := in.size
	sx := t.sext
	flush := sp == spGlobal
	apply := func(old, b, c uint64) uint64 {
		switch op {
		case "add":
			switch t {
			case tF32:
				if flush {
					// On global memory the f32 atomic add flushes
					// subnormal inputs and results.
					return res32(ftz32(ftz32(f32frombits(uint32(old))) + ftz32(f32frombits(uint32(b)))))
				}
				return res32(f32frombits(uint32(old)) + f32frombits(uint32(b)))
			case tF64:
				return res64(f64frombits(old) + f64frombits(b))
			}
			return old + b
		case "min", "max":
			x, y := sx(old), sx(b)
			less := x < y
			if t.signed() {
				less = int64(x) < int64(y)
			}
			if less == (op == "min") {
				return x
			}
			return y
		case "exch":
			return b
		case "cas":
			if old&t.mask() == b&t.mask() {
				return c
			}
			return old
		case "and":
			return old & b
		case "or":
			return old | b
		}
		return old ^ b
	}
	in.exec = func(w *warp, in *inst, m uint32) {
		base := w.reg(in.addr)
		bv := w.reg(in.src[0])
		var cv *[warpSize]uint64
		if len(in.src) > 1 {
			cv = w.reg(in.src[1])
		}
		if in.space != spShared {
			w.cta.l.atomMu.Lock()
			defer w.cta.l.atomMu.Unlock()
		}
		for s := m; s != 0; s &= s - 1 {
			l := bits.TrailingZeros32(s)
			addr := base[l] + uint64(in.off)
			// Read (checking initialisation), then write.
			b := w.access(in, l, addr, size, false, true)
			if b == nil {
				continue
			}
			old := getLE(b)
			var c uint64
			if cv != nil {
				c = cv[l]
			}
			nb := w.access(in, l, addr, size, true, true)
			if nb != nil {
				putLE(nb, apply(old, bv[l], c))
			}
			if len(in.dst) == 1 && in.dst[0] >= 0 {
				w.reg(in.dst[0])[l] = sx(old)
			}
		}
	}
	return nil
}
