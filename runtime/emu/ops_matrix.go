package emu

import (
	"fmt"
	"math/bits"
)

// ldmatrix and stmatrix (docs/ptx-isa-notes.md §11.4): a warp moves up to
// four 8×8 matrices of 16-bit elements between shared memory and
// registers. Threads 8j..8j+7 give the addresses of matrix j's eight
// 16-byte rows; lane l's register j holds matrix j's row l/4, columns
// 2(l%4) (low half) and 2(l%4)+1 (high half) — with .trans, rows 2(l%4)
// and 2(l%4)+1 of column l/4.

func init() {
	builders["ldmatrix"] = buildMatrix
	builders["stmatrix"] = buildMatrix
}

func buildMatrix(d *decoder, in *inst, o *opc, args []string) error {
	num := 0
	trans := false
	for _, m := range o.order {
		switch m {
		case "sync", "aligned", "m8n8", "shared", "shared::cta":
		case "x1", "x2", "x4":
			num = int(m[1] - '0')
		case "trans":
			trans = true
		default:
			return fmt.Errorf("modifier .%s is not implemented", m)
		}
	}
	if _, err := oneType(o, tB16); err != nil || num == 0 || !o.has("sync") || !o.has("aligned") || !o.has("m8n8") {
		return fmt.Errorf("want %s.sync.aligned.m8n8.x{1,2,4}{.trans}.shared.b16", o.base)
	}
	if err := need(args, 2); err != nil {
		return err
	}
	load := o.base == "ldmatrix"
	memArg, regArg := args[1], args[0]
	if !load {
		memArg, regArg = args[0], args[1]
	}
	var err error
	in.space = spGeneric
	if o.has("shared") || o.has("shared::cta") {
		in.space = spShared
	}
	if in.addr, in.off, err = d.mem(memArg, in.space); err != nil {
		return err
	}
	regs := vector(regArg)
	if len(regs) != num {
		return fmt.Errorf("%d registers for .x%d", len(regs), num)
	}
	for _, r := range regs {
		if load {
			x, err := d.dst(r)
			if err != nil || x < 0 {
				return fmt.Errorf("destination %s", r)
			}
			in.dst = append(in.dst, x)
		} else {
			x, err := d.src(r, tB32)
			if err != nil {
				return err
			}
			in.src = append(in.src, x)
		}
	}
	in.store = !load
	in.size, in.vec = 2, 1
	in.exec = func(w *warp, in *inst, m uint32) {
		if m != w.exists&^w.exited || m != fullMask {
			w.report(in, m, KindDivergence, "%s is .sync.aligned: all 32 threads of the warp must execute it, %d do", in.op, bits.OnesCount32(m))
			return
		}
		base := w.reg(in.addr)
		for j := 0; j < num; j++ {
			// Matrix j's rows, from the addresses of threads 8j..8j+7.
			var rows [8][]byte
			for r := 0; r < 8; r++ {
				t := 8*j + r
				addr := base[t] + uint64(in.off)
				if in.space == spGeneric {
					if addr < sharedWindow || addr >= sharedWindow+1<<32 {
						w.report(in, 1<<t, KindOutOfBounds, "%s row address %#x (generic) is not in shared memory", in.op, addr)
						return
					}
					addr -= sharedWindow
				}
				b := w.sharedAt(in, t, addr, 16, !load, false)
				if b == nil {
					return
				}
				rows[r] = b
			}
			for l := 0; l < warpSize; l++ {
				// The two elements of lane l: (row, column) in the stored
				// matrix, low half first.
				var at [2][2]int
				for h := 0; h < 2; h++ {
					if trans {
						at[h] = [2]int{2*(l%4) + h, l / 4}
					} else {
						at[h] = [2]int{l / 4, 2*(l%4) + h}
					}
				}
				if load {
					var v uint64
					for h := 0; h < 2; h++ {
						e := rows[at[h][0]][2*at[h][1]:]
						v |= (uint64(e[0]) | uint64(e[1])<<8) << (16 * h)
					}
					w.reg(in.dst[j])[l] = v
					continue
				}
				v := w.reg(in.src[j])[l]
				for h := 0; h < 2; h++ {
					e := rows[at[h][0]][2*at[h][1]:]
					x := v >> (16 * h)
					e[0], e[1] = byte(x), byte(x>>8)
				}
			}
		}
	}
	return nil
}
