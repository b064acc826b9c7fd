package emu_test

// wgmma test machinery, written from docs/ptx-isa-notes.md §10 (ISA §9.7.15):
// the canonical shared-memory layouts and swizzle (§10.6), the matrix
// descriptor (§10.5), the accumulator and A register fragments (§10.7), and a
// float64 reference for D = (scale-d ? D : 0) + Σ (sa·A)(sb·B) (§10.3).

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

// wgLayout is one operand's canonical layout.
type wgLayout struct {
	kMajor   bool
	swz      int    // swizzle width in bytes: 0 (none / interleave), 32, 64, 128
	lbo, sbo uint64 // bytes
}

func (L wgLayout) String() string {
	maj := "K-major"
	if !L.kMajor {
		maj = "MN-major"
	}
	sw := "no swizzle"
	if L.swz != 0 {
		sw = fmt.Sprintf("%dB swizzle", L.swz)
	}
	return fmt.Sprintf("%s %s LBO=%d SBO=%d", maj, sw, L.lbo, L.sbo)
}

// offset is the unswizzled byte offset of element (mn, k) (§10.6 formulas):
//
//	K-major, none:      (mn%8)*16 + (mn/8)*SBO + (kb%16) + (kb/16)*LBO
//	K-major, W-swizzle: (mn%8)*W  + (mn/8)*SBO + kb
//	MN-major, none:     (xb%16) + (xb/16)*SBO + (k%8)*16 + (k/8)*LBO
//	MN-major, W:        (xb%W)  + (xb/W)*LBO  + (k%8)*W  + (k/8)*SBO
func (L wgLayout) offset(mn, k, eb int) uint64 {
	W := uint64(L.swz)
	if L.kMajor {
		kb := uint64(k * eb)
		m := uint64(mn)
		if L.swz == 0 {
			return (m%8)*16 + (m/8)*L.sbo + kb%16 + (kb/16)*L.lbo
		}
		return (m%8)*W + (m/8)*L.sbo + kb
	}
	xb := uint64(mn * eb)
	kk := uint64(k)
	if L.swz == 0 {
		return xb%16 + (xb/16)*L.sbo + (kk%8)*16 + (kk/8)*L.lbo
	}
	return xb%W + (xb/W)*L.lbo + (kk%8)*W + (kk/8)*L.sbo
}

// swizzle applies Swizzle<B,4,3> to an absolute shared address: the 16-byte
// chunk bits [4, 4+B) are XORed with the 128-byte line bits [7, 7+B).
func swizzleAddr(addr uint64, swz int) uint64 {
	var s uint64
	switch swz {
	case 0:
		return addr
	case 32:
		s = 1
	case 64:
		s = 3
	case 128:
		s = 7
	}
	return addr ^ ((addr>>7)&s)<<4
}

// addr is the absolute shared address of element (mn, k) for a descriptor
// whose start address is start (§10.6: the XOR uses absolute address bits).
func (L wgLayout) addr(start uint64, mn, k, eb int) uint64 {
	return swizzleAddr(start+L.offset(mn, k, eb), L.swz)
}

// desc encodes the 64-bit matrix descriptor (§10.5):
// bits 13:0 enc(start), 29:16 enc(LBO), 45:32 enc(SBO), 51:49 base offset,
// 63:62 swizzle mode (0 none, 1 128B, 2 64B, 3 32B); enc(x) = (x & 0x3FFFF) >> 4.
func (L wgLayout) desc(start uint64) uint64 {
	enc := func(x uint64) uint64 { return (x & 0x3FFFF) >> 4 }
	lbo := L.lbo
	var mode uint64
	switch L.swz {
	case 128:
		mode = 1
	case 64:
		mode = 2
	case 32:
		mode = 3
	}
	d := enc(start) | enc(lbo)<<16 | enc(L.sbo)<<32 | mode<<62
	if L.kMajor && L.swz != 0 {
		// K-major swizzled: LBO "not used, assumed 1" (§10.6 table).
		d = d&^(0x3FFF<<16) | 1<<16
	}
	return d
}

// Fragment maps (§10.7), t = thread in the warpgroup, i = element index.
func fragD(t, i int) (row, col int) {
	w, l := t/32, t%32
	return 16*w + l/4 + 8*((i>>1)&1), 8*(i>>2) + 2*(l%4) + (i & 1)
}

func fragA16(t, i int) (row, k int) { // bf16/f16 A in registers, elements a0..a7
	w, l := t/32, t%32
	return 16*w + l/4 + 8*((i>>1)&1), 8*(i>>2) + 2*(l%4) + (i & 1)
}

func fragA32(t, i int) (row, k int) { // fp8 A in registers, elements a0..a15
	w, l := t/32, t%32
	return 16*w + l/4 + 8*((i>>2)&1), 16*(i>>3) + 4*(l%4) + (i & 3)
}

// ---- element types ------------------------------------------------------

type wgType struct {
	name   string // PTX type name
	eb     int    // bytes per element
	kInst  int    // K of one instruction
	decode func(code uint16) float64
	random func(rng *rand.Rand) uint16
}

func bf16Value(c uint16) float64 { return float64(math.Float32frombits(uint32(c) << 16)) }

var (
	wgBF16 = wgType{"bf16", 2, 16, bf16Value, func(rng *rand.Rand) uint16 {
		// sign, exponent 2^-4 .. 2^1, full 7-bit mantissa
		return uint16(rng.Intn(2))<<15 | uint16(123+rng.Intn(6))<<7 | uint16(rng.Intn(128))
	}}
	wgE4M3 = wgType{"e4m3", 1, 32, func(c uint16) float64 { return decodeE4M3(uint8(c)) }, func(rng *rand.Rand) uint16 {
		for {
			b := uint16(rng.Intn(256))
			if b&0x7F != 0x7F {
				return b
			}
		}
	}}
	wgE5M2 = wgType{"e5m2", 1, 32, func(c uint16) float64 { return fmtE5M2.decodeIEEE(uint64(c)) }, func(rng *rand.Rand) uint16 {
		// exponent 8..21 (2^-7 .. 2^6), random mantissa and sign; no Inf/NaN
		return uint16(rng.Intn(2))<<7 | uint16(8+rng.Intn(14))<<2 | uint16(rng.Intn(4))
	}}
)

// ---- test programs -----------------------------------------------------

// wgOperand places a matrix in shared memory.
type wgOperand struct {
	L       wgLayout
	start   uint64 // offset from the 1024-aligned shared base
	baseOff uint64 // descriptor bits 51:49 (matrix base offset), normally 0
}

type wgMMA struct {
	acc    int
	a, b   wgOperand
	aRegs  bool       // A from registers (fragments of §10.7)
	scaleD string     // "p" (true predicate), "!p" (false predicate), "1", "0"
	sa, sb int        // +1 / -1
	ta, tb int        // transposes (bf16 only)
	A      [][]uint16 // [64][kInst] codes
	B      [][]uint16 // [kInst][N] codes
}

type wgTest struct {
	N            int
	nAcc         int
	at, bt       wgType
	imgSize      int // bytes of shared memory (the allocation cursor)
	mmas         []*wgMMA
	prog         []string      // "mma j", "commit", "wait n", "store a", or raw PTX ("raw ...")
	noFence      bool          // omit wgmma.fence (sanitizer test)
	noProxyFence bool          // omit fence.proxy.async (sanitizer test)
	dinit        [][][]float32 // [acc][thread][N/2]
	seed         uint64
	nWG          int // warpgroups in the CTA; warpgroup g runs mmas g*perWG .. (g+1)*perWG-1
}

func (w *wgTest) threads() int { return 128 * w.nWG }

// perWG is the number of mmas each warpgroup issues ("mma j" in the program
// is the j-th of its warpgroup; all warpgroups share shapes and modifiers).
func (w *wgTest) perWG() int { return len(w.mmas) / w.nWG }

func newWGTest(n, nAcc int, at, bt wgType, rng *rand.Rand) *wgTest {
	return newWGTestN(n, nAcc, 1, at, bt, rng)
}

func newWGTestN(n, nAcc, nWG int, at, bt wgType, rng *rand.Rand) *wgTest {
	w := &wgTest{N: n, nAcc: nAcc, at: at, bt: bt, seed: 1, nWG: nWG}
	w.dinit = make([][][]float32, nAcc)
	for a := range w.dinit {
		w.dinit[a] = make([][]float32, 128*nWG)
		for t := range w.dinit[a] {
			w.dinit[a][t] = make([]float32, n/2)
			for i := range w.dinit[a][t] {
				w.dinit[a][t][i] = float32(rng.Intn(64)-32) / 8
			}
		}
	}
	return w
}

// alloc reserves size bytes of the shared image at a 1024-aligned offset.
func (w *wgTest) alloc(size int) uint64 {
	start := (w.imgSize + 1023) &^ 1023
	w.imgSize = start + (size+15)&^15
	return uint64(start)
}

// place allocates room for a rows×K operand (rows = 64 for A, N for B) in
// layout L and returns it.
func (w *wgTest) place(L wgLayout, rows int, t wgType) wgOperand {
	var max uint64
	for r := 0; r < rows; r++ {
		for k := 0; k < t.kInst; k++ {
			if o := L.offset(r, k, t.eb) + uint64(t.eb); o > max {
				max = o
			}
		}
	}
	size := (max + 127) &^ 127 // the swizzle permutes within a 128-byte line
	return wgOperand{L: L, start: w.alloc(int(size))}
}

// addMMA adds an mma with random A/B codes and returns it.
func (w *wgTest) addMMA(acc int, a, b wgOperand, scaleD string, rng *rand.Rand) *wgMMA {
	m := &wgMMA{acc: acc, a: a, b: b, scaleD: scaleD, sa: 1, sb: 1}
	if !a.L.kMajor {
		m.ta = 1
	}
	if !b.L.kMajor {
		m.tb = 1
	}
	K := w.at.kInst
	m.A = make([][]uint16, 64)
	for i := range m.A {
		m.A[i] = make([]uint16, K)
		for k := range m.A[i] {
			m.A[i][k] = w.at.random(rng)
		}
	}
	m.B = make([][]uint16, K)
	for k := range m.B {
		m.B[k] = make([]uint16, w.N)
		for n := range m.B[k] {
			m.B[k][n] = w.bt.random(rng)
		}
	}
	w.mmas = append(w.mmas, m)
	return m
}

// image builds the shared-memory image. Bytes not covered by any operand hold
// 0xFF (a NaN in bf16, e4m3 and e5m2), so a wrong address poisons the result.
func (w *wgTest) image(t *testing.T) []byte {
	img := make([]byte, w.imgSize)
	for i := range img {
		img[i] = 0xFF
	}
	owner := make([]string, w.imgSize)
	put := func(addr uint64, code uint16, eb int, who string) {
		for j := 0; j < eb; j++ {
			p := addr + uint64(j)
			if p >= uint64(w.imgSize) {
				t.Fatalf("test bug: %s lands at %d, outside the %d-byte image", who, p, w.imgSize)
			}
			if owner[p] != "" && owner[p] != who {
				t.Fatalf("test bug: layout collision at byte %d: %s and %s", p, owner[p], who)
			}
			owner[p] = who
			img[p] = byte(code >> (8 * j))
		}
	}
	for j, m := range w.mmas {
		K := w.at.kInst
		if !m.aRegs {
			for r := 0; r < 64; r++ {
				for k := 0; k < K; k++ {
					put(m.a.L.addr(m.a.start, r, k, w.at.eb), m.A[r][k], w.at.eb, fmt.Sprintf("mma%d A[%d][%d]", j, r, k))
				}
			}
		}
		for k := 0; k < K; k++ {
			for n := 0; n < w.N; n++ {
				put(m.b.L.addr(m.b.start, n, k, w.bt.eb), m.B[k][n], w.bt.eb, fmt.Sprintf("mma%d B[%d][%d]", j, k, n))
			}
		}
	}
	return img
}

func (w *wgTest) regs(acc int) string {
	var s []string
	for i := 0; i < w.N/2; i++ {
		s = append(s, fmt.Sprintf("%%d%d", acc*w.N/2+i))
	}
	return "{" + strings.Join(s, ", ") + "}"
}

func (w *wgTest) mmaInst(j int) string {
	m := w.mmas[j]
	scale := m.scaleD
	switch scale {
	case "p":
		scale = "%p2"
	case "!p":
		scale = "%p3"
	}
	a := fmt.Sprintf("%%rd%d", 20+2*j)
	if m.aRegs {
		a = fmt.Sprintf("{%%ra%d, %%ra%d, %%ra%d, %%ra%d}", 4*j, 4*j+1, 4*j+2, 4*j+3)
	}
	b := fmt.Sprintf("%%rd%d", 21+2*j)
	if w.at.name == "bf16" {
		if m.aRegs {
			return fmt.Sprintf("wgmma.mma_async.sync.aligned.m64n%dk16.f32.bf16.bf16 %s, %s, %s, %s, %d, %d, %d;", w.N, w.regs(m.acc), a, b, scale, m.sa, m.sb, m.tb)
		}
		return fmt.Sprintf("wgmma.mma_async.sync.aligned.m64n%dk16.f32.bf16.bf16 %s, %s, %s, %s, %d, %d, %d, %d;", w.N, w.regs(m.acc), a, b, scale, m.sa, m.sb, m.ta, m.tb)
	}
	return fmt.Sprintf("wgmma.mma_async.sync.aligned.m64n%dk32.f32.%s.%s %s, %s, %s, %s, %d, %d;", w.N, w.at.name, w.bt.name, w.regs(m.acc), a, b, scale, m.sa, m.sb)
}

func (w *wgTest) kernel() string {
	nregs := w.nAcc * w.N / 2
	var b strings.Builder
	b.WriteString(ptxHeader)
	b.WriteString(".visible .entry wg(.param .u64 wg_img, .param .u64 wg_desc, .param .u64 wg_dinit, .param .u64 wg_out, .param .u64 wg_areg)\n{\n")
	fmt.Fprintf(&b, "\t.reg .pred %%p<8>;\n\t.reg .b32 %%r<16>;\n\t.reg .b32 %%ra<16>;\n\t.reg .b64 %%rd<64>;\n\t.reg .f32 %%d<%d>;\n", nregs)
	// A small variable first, so that smem (1024-aligned) need not sit at
	// shared address 0: descriptors carry absolute shared-window addresses.
	b.WriteString("\t.shared .align 16 .b8 wgpad[48];\n")
	fmt.Fprintf(&b, "\t.shared .align 1024 .b8 smem[%d];\n", w.imgSize)
	b.WriteString(`	ld.param.u64 %rd1, [wg_img];
	ld.param.u64 %rd2, [wg_desc];
	ld.param.u64 %rd3, [wg_dinit];
	ld.param.u64 %rd4, [wg_out];
	ld.param.u64 %rd5, [wg_areg];
	mov.u32 %r1, %tid.x;
	mov.u64 %rd10, smem;
	mul.wide.u32 %rd11, %r1, 16;
COPY:
`)
	fmt.Fprintf(&b, "\tsetp.ge.u64 %%p1, %%rd11, %d;\n", w.imgSize)
	b.WriteString(`	@%p1 bra COPIED;
	add.s64 %rd12, %rd1, %rd11;
	ld.global.v4.u32 {%r4, %r5, %r6, %r7}, [%rd12];
	add.s64 %rd13, %rd10, %rd11;
	st.shared.v4.u32 [%rd13], {%r4, %r5, %r6, %r7};
`)
	fmt.Fprintf(&b, "\tadd.s64 %%rd11, %%rd11, %d;\n", 16*w.threads())
	b.WriteString(`	bra COPY;
COPIED:
`)
	if !w.noProxyFence {
		b.WriteString("\tfence.proxy.async.shared::cta;\n")
	}
	fmt.Fprintf(&b, "\tshr.u32 %%r8, %%r1, 7;\n\tmul.wide.u32 %%rd9, %%r8, %d;\n\tadd.s64 %%rd2, %%rd2, %%rd9;\n", 16*w.perWG())
	b.WriteString(`	bar.sync 0;
	shr.u64 %rd14, %rd10, 4;
	setp.eq.u32 %p2, %r1, %r1;
	setp.ne.u32 %p3, %r1, %r1;
`)
	for j, m := range w.mmas[:w.perWG()] {
		// descriptors from the host, start address relative to smem: add smem>>4.
		if !m.aRegs {
			fmt.Fprintf(&b, "\tld.global.u64 %%rd%d, [%%rd2+%d];\n\tadd.s64 %%rd%d, %%rd%d, %%rd14;\n", 20+2*j, 16*j, 20+2*j, 20+2*j)
		}
		fmt.Fprintf(&b, "\tld.global.u64 %%rd%d, [%%rd2+%d];\n\tadd.s64 %%rd%d, %%rd%d, %%rd14;\n", 21+2*j, 16*j+8, 21+2*j, 21+2*j)
		if m.aRegs {
			b.WriteString("\tmul.wide.u32 %rd17, %r1, 64;\n\tadd.s64 %rd17, %rd5, %rd17;\n")
			for r := 0; r < 4; r++ {
				fmt.Fprintf(&b, "\tld.global.b32 %%ra%d, [%%rd17+%d];\n", 4*j+r, 16*j+4*r)
			}
		}
	}
	fmt.Fprintf(&b, "\tmul.wide.u32 %%rd15, %%r1, %d;\n\tadd.s64 %%rd16, %%rd3, %%rd15;\n", nregs*4)
	for i := 0; i < nregs; i++ {
		fmt.Fprintf(&b, "\tld.global.f32 %%d%d, [%%rd16+%d];\n", i, 4*i)
	}
	fmt.Fprintf(&b, "\tmul.wide.u32 %%rd18, %%r1, %d;\n\tadd.s64 %%rd19, %%rd4, %%rd18;\n", w.N/2*4)
	if !w.noFence {
		b.WriteString("\twgmma.fence.sync.aligned;\n")
	}
	snap := 0
	for _, st := range w.prog {
		f := strings.Fields(st)
		switch f[0] {
		case "mma":
			var j int
			fmt.Sscan(f[1], &j)
			b.WriteString("\t" + w.mmaInst(j) + "\n")
		case "commit":
			b.WriteString("\twgmma.commit_group.sync.aligned;\n")
		case "wait":
			b.WriteString("\twgmma.wait_group.sync.aligned " + f[1] + ";\n")
		case "store":
			var a int
			fmt.Sscan(f[1], &a)
			for i := 0; i < w.N/2; i++ {
				fmt.Fprintf(&b, "\tst.global.f32 [%%rd19+%d], %%d%d;\n", (snap*w.threads()*w.N/2+i)*4, a*w.N/2+i)
			}
			snap++
		case "raw":
			b.WriteString("\t" + strings.TrimPrefix(st, "raw ") + "\n")
		}
	}
	b.WriteString("\tret;\n}\n")
	return b.String()
}

// run executes the test and returns the stored snapshots [snap][thread][N/2]
// and the launch error (a sanitizer report, if any).
func (w *wgTest) run(t *testing.T) ([][][]float32, error) {
	t.Helper()
	src := w.kernel()
	dev := isaDevice(w.seed)
	if _, err := dev.LoadPTX(src); err != nil {
		return nil, fmt.Errorf("LoadPTX: %v", err)
	}
	img := w.image(t)
	descs := make([]byte, 16*len(w.mmas))
	for j, m := range w.mmas {
		binary.LittleEndian.PutUint64(descs[16*j:], m.a.L.desc(m.a.start)|m.a.baseOff<<49)
		binary.LittleEndian.PutUint64(descs[16*j+8:], m.b.L.desc(m.b.start)|m.b.baseOff<<49)
	}
	nregs := w.nAcc * w.N / 2
	dinit := make([]byte, w.threads()*nregs*4)
	for a := 0; a < w.nAcc; a++ {
		for th := 0; th < w.threads(); th++ {
			for i := 0; i < w.N/2; i++ {
				binary.LittleEndian.PutUint32(dinit[(th*nregs+a*w.N/2+i)*4:], math.Float32bits(w.dinit[a][th][i]))
			}
		}
	}
	areg := make([]byte, w.threads()*64)
	for jj, m := range w.mmas {
		if !m.aRegs {
			continue
		}
		g, j := jj/w.perWG(), jj%w.perWG()
		for th := 128 * g; th < 128*(g+1); th++ {
			var regs [4]uint32
			if w.at.eb == 2 {
				for i := 0; i < 8; i++ {
					r, k := fragA16(th%128, i)
					regs[i/2] |= uint32(m.A[r][k]) << (16 * uint(i%2))
				}
			} else {
				for i := 0; i < 16; i++ {
					r, k := fragA32(th%128, i)
					regs[i/4] |= uint32(m.A[r][k]&0xFF) << (8 * uint(i%4))
				}
			}
			for r := 0; r < 4; r++ {
				binary.LittleEndian.PutUint32(areg[th*64+16*j+4*r:], regs[r])
			}
		}
	}
	nsnap := 0
	for _, st := range w.prog {
		if strings.HasPrefix(st, "store") {
			nsnap++
		}
	}
	if nsnap == 0 {
		nsnap = 1
	}
	ib := mustAlloc(t, dev, img)
	db := mustAlloc(t, dev, descs)
	dib := mustAlloc(t, dev, dinit)
	ob := mustAlloc(t, dev, make([]byte, nsnap*w.threads()*w.N/2*4))
	ab := mustAlloc(t, dev, areg)
	_, err := dev.Run("wg", emu.LaunchConfig{Grid: [3]uint32{1, 1, 1}, Block: [3]uint32{uint32(w.threads()), 1, 1}, Args: []uint64{ib.Ptr, db.Ptr, dib.Ptr, ob.Ptr, ab.Ptr}})
	out := mustDownload(t, dev, ob)
	snaps := make([][][]float32, nsnap)
	for s := range snaps {
		snaps[s] = make([][]float32, w.threads())
		for th := range snaps[s] {
			snaps[s][th] = make([]float32, w.N/2)
			for i := range snaps[s][th] {
				snaps[s][th][i] = math.Float32frombits(binary.LittleEndian.Uint32(out[((s*w.threads()+th)*w.N/2+i)*4:]))
			}
		}
	}
	return snaps, err
}

// reference runs the program on float64 matrices and returns, per "store",
// the expected 64×N matrix and a magnitude bound (Σ|terms|) per element.
func (w *wgTest) reference(g int) (want, mag [][][]float64) {
	D := make([][][]float64, w.nAcc)
	M := make([][][]float64, w.nAcc)
	for a := range D {
		D[a] = make([][]float64, 64)
		M[a] = make([][]float64, 64)
		for r := range D[a] {
			D[a][r] = make([]float64, w.N)
			M[a][r] = make([]float64, w.N)
		}
		for th := 0; th < 128; th++ {
			for i := 0; i < w.N/2; i++ {
				r, c := fragD(th, i)
				D[a][r][c] = float64(w.dinit[a][128*g+th][i])
				M[a][r][c] = math.Abs(D[a][r][c])
			}
		}
	}
	for _, st := range w.prog {
		f := strings.Fields(st)
		switch f[0] {
		case "mma":
			var j int
			fmt.Sscan(f[1], &j)
			m := w.mmas[g*w.perWG()+j]
			keep := m.scaleD == "p" || m.scaleD == "1"
			for r := 0; r < 64; r++ {
				for c := 0; c < w.N; c++ {
					var s, sm float64
					for k := 0; k < w.at.kInst; k++ {
						p := float64(m.sa) * w.at.decode(m.A[r][k]) * float64(m.sb) * w.bt.decode(m.B[k][c])
						s += p
						sm += math.Abs(p)
					}
					if keep {
						D[m.acc][r][c] += s
						M[m.acc][r][c] += sm
					} else {
						D[m.acc][r][c] = s
						M[m.acc][r][c] = sm
					}
				}
			}
		case "store":
			var a int
			fmt.Sscan(f[1], &a)
			cp := make([][]float64, 64)
			cm := make([][]float64, 64)
			for r := range cp {
				cp[r] = append([]float64(nil), D[a][r]...)
				cm[r] = append([]float64(nil), M[a][r]...)
			}
			want = append(want, cp)
			mag = append(mag, cm)
		}
	}
	return want, mag
}

// check compares the run with the reference. The ISA leaves the accumulation
// order and rounding unspecified but requires at least single precision
// (§10.4), so the tolerance is (terms+2)·2^-23·Σ|terms|.
func (w *wgTest) check(t *testing.T, what string) {
	t.Helper()
	got, err := w.run(t)
	if err != nil {
		t.Errorf("%s: unexpected error/report: %v", what, err)
		if got == nil {
			return
		}
	}
	kTotal := 0
	for _, st := range w.prog {
		if strings.HasPrefix(st, "mma") {
			kTotal += w.at.kInst
		}
	}
	bad, total := 0, 0
	for g := 0; g < w.nWG; g++ {
		want, mag := w.reference(g)
		for s := range want {
			for th := 0; th < 128; th++ {
				for i := 0; i < w.N/2; i++ {
					total++
					r, c := fragD(th, i)
					gv := float64(got[s][128*g+th][i])
					e := want[s][r][c]
					tol := float64(kTotal+2)*math.Ldexp(1, -23)*mag[s][r][c] + 1e-30
					if !(math.Abs(gv-e) <= tol) {
						bad++
						if bad <= 8 {
							t.Errorf("%s: store #%d, warpgroup %d thread %d reg d%d -> D[%d][%d] (§10.7 fragment): want %.9g, got %.9g (tol %.3g)", what, s, g, th, i, r, c, e, gv, tol)
						}
					}
				}
			}
		}
	}
	if bad > 8 {
		t.Errorf("%s: %d of %d accumulator values wrong", what, bad, total)
	}
}
