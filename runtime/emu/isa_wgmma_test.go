package emu_test

// wgmma.mma_async and its fences/groups (docs/ptx-isa-notes.md §10; ISA §9.7.15).

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

// kLayout returns a K-major layout for an operand with `rows` rows along M/N.
// variant 0: no swizzle with the two core matrices along K adjacent (LBO=128,
// SBO=256), swizzled with SBO = 8·W (atoms back to back).
// variant 1: no swizzle with all 8-row groups first (SBO=128, LBO=rows/8·128),
// swizzled with a padded SBO = 16·W.
func kLayout(swz, rows, variant int) wgLayout {
	if swz == 0 {
		if variant == 0 {
			return wgLayout{kMajor: true, lbo: 128, sbo: 256}
		}
		return wgLayout{kMajor: true, lbo: uint64(rows/8) * 128, sbo: 128}
	}
	sbo := uint64(8 * swz)
	if variant == 1 {
		sbo *= 2
	}
	return wgLayout{kMajor: true, swz: swz, sbo: sbo}
}

// mnLayout returns an MN-major layout (bf16: 2 bytes per element) for an
// operand with `mn` elements along M/N.
// no swizzle, variant 0: 16-byte MN chunks SBO=128 apart, 8-K groups LBO=mn/8·128;
// variant 1: LBO=128 (8-K groups adjacent), SBO=256.
// W-swizzle, variant 0: MN atoms LBO=8W apart, 8-K groups SBO=atoms·8W;
// variant 1: 8-K groups adjacent SBO=8W, MN atoms LBO=16W.
func mnLayout(swz, mn, variant int) wgLayout {
	if swz == 0 {
		if variant == 0 {
			return wgLayout{lbo: uint64(mn/8) * 128, sbo: 128}
		}
		return wgLayout{lbo: 128, sbo: 256}
	}
	W := uint64(swz)
	atoms := (uint64(2*mn) + W - 1) / W
	if variant == 0 {
		return wgLayout{swz: swz, lbo: 8 * W, sbo: atoms * 8 * W}
	}
	return wgLayout{swz: swz, lbo: 16 * W, sbo: 8 * W}
}

var stdProg = []string{"mma 0", "commit", "wait 0", "store 0"}

// TestISAWGMMALayoutSelfCheck checks this file's address function against the
// ISA's worked examples (exact CuTe layouts, ISA 9.0 §9.7.15.5.1.2.1.3) and
// the TMA 128B swizzle table (§10.6). It does not run the emulator.
func TestISAWGMMALayoutSelfCheck(t *testing.T) {
	type ex struct {
		name    string
		L       wgLayout
		eb      int
		shapeMN []int // CuTe shape/stride of the MN mode
		strMN   []int
		shapeK  []int
		strK    []int
	}
	exs := []ex{
		// K-major, no swizzle, tf32: ((8,2),(4,4)):((4,32),(1,64)); LBO=256B SBO=128B
		{"K none tf32", wgLayout{kMajor: true, lbo: 256, sbo: 128}, 4, []int{8, 2}, []int{4, 32}, []int{4, 4}, []int{1, 64}},
		// K-major, 32B, tf32: ((8,2),(4,4)):((8,64),(1,4)); SBO=256B
		{"K 32B tf32", wgLayout{kMajor: true, swz: 32, sbo: 256}, 4, []int{8, 2}, []int{8, 64}, []int{4, 4}, []int{1, 4}},
		// MN-major, no swizzle, bf16: ((8,1,2),(8,2)):((1,8,64),(8,128)); LBO=256B SBO=128B
		{"MN none bf16", wgLayout{lbo: 256, sbo: 128}, 2, []int{8, 1, 2}, []int{1, 8, 64}, []int{8, 2}, []int{8, 128}},
		// MN-major, 32B, bf16: ((8,2,2),(8,2)):((1,8,128),(16,256)); LBO=256B SBO=512B
		{"MN 32B bf16", wgLayout{swz: 32, lbo: 256, sbo: 512}, 2, []int{8, 2, 2}, []int{1, 8, 128}, []int{8, 2}, []int{16, 256}},
		// MN-major, 64B, bf16: ((8,4,2),(8,2)):((1,8,256),(32,512)); LBO=512B SBO=1024B
		{"MN 64B bf16", wgLayout{swz: 64, lbo: 512, sbo: 1024}, 2, []int{8, 4, 2}, []int{1, 8, 256}, []int{8, 2}, []int{32, 512}},
	}
	cute := func(x int, shape, stride []int) int {
		o := 0
		for i, s := range shape {
			o += (x % s) * stride[i]
			x /= s
		}
		return o
	}
	prod := func(s []int) int {
		p := 1
		for _, v := range s {
			p *= v
		}
		return p
	}
	for _, e := range exs {
		for mn := 0; mn < prod(e.shapeMN); mn++ {
			for k := 0; k < prod(e.shapeK); k++ {
				want := uint64((cute(mn, e.shapeMN, e.strMN) + cute(k, e.shapeK, e.strK)) * e.eb)
				if got := e.L.offset(mn, k, e.eb); got != want {
					t.Fatalf("test address function disagrees with the ISA example %s at (mn=%d,k=%d): %d vs %d", e.name, mn, k, got, want)
				}
			}
		}
	}
	// K-major SW128, K stepped by +32 bytes in the descriptor start: the whole
	// 64-wide bf16 tile is the TMA 128B layout (row r's 16-byte cell c at c^(r%8)).
	L := wgLayout{kMajor: true, swz: 128, sbo: 1024}
	base := uint64(4096)
	for j := 0; j < 4; j++ {
		for m := 0; m < 64; m++ {
			for k := 0; k < 16; k++ {
				kb := uint64(32*j + 2*k)
				want := base + uint64(m/8)*1024 + uint64(m%8)*128 + ((kb/16)^uint64(m%8))*16 + kb%16
				if got := L.addr(base+uint64(32*j), m, k, 2); got != want {
					t.Fatalf("SW128 K-step self-check j=%d m=%d k=%d: %d vs %d", j, m, k, got, want)
				}
			}
		}
	}
	// Descriptor encoding (§10.5), checked on the ISA example encodings.
	if d := (wgLayout{kMajor: true, lbo: 256, sbo: 128}).desc(0); (d>>16)&0x3FFF != 16 || (d>>32)&0x3FFF != 8 || d>>62 != 0 {
		t.Fatalf("descriptor encoding self-check: %#x", d)
	}
	if d := (wgLayout{swz: 64, lbo: 512, sbo: 1024}).desc(0x400); d&0x3FFF != 0x40 || (d>>16)&0x3FFF != 32 || (d>>32)&0x3FFF != 64 || d>>62 != 2 {
		t.Fatalf("descriptor encoding self-check: %#x", d)
	}
	// Fragment checks from the notes' table (§10.7).
	for _, c := range []struct{ t, i, r, col int }{{0, 0, 0, 0}, {0, 1, 0, 1}, {0, 2, 8, 0}, {0, 3, 8, 1}, {0, 4, 0, 8}, {1, 0, 0, 2}, {4, 0, 1, 0}, {32, 0, 16, 0}, {127, 127, 63, 255}} {
		if r, col := fragD(c.t, c.i); r != c.r || col != c.col {
			t.Fatalf("fragment self-check t%d d%d: (%d,%d) vs (%d,%d)", c.t, c.i, r, col, c.r, c.col)
		}
	}
}

// TestISAWGMMABF16KMajor: every N in {8,16,64,128,256} × every swizzle mode,
// A and B K-major (imm-trans 0), scale-d = 1 (accumulate into a random D).
func TestISAWGMMABF16KMajor(t *testing.T) {
	for _, n := range []int{8, 16, 64, 128, 256} {
		for _, swz := range []int{0, 32, 64, 128} {
			n, swz := n, swz
			t.Run(fmt.Sprintf("N%d_swz%d", n, swz), func(t *testing.T) {
				rng := rand.New(rand.NewSource(int64(n*1000 + swz)))
				w := newWGTest(n, 1, wgBF16, wgBF16, rng)
				bv := 1
				if n > 64 {
					bv = 0 // keep the image within 48 KB
				}
				a := w.place(kLayout(swz, 64, 0), 64, wgBF16)
				b := w.place(kLayout(swz, n, bv), n, wgBF16)
				w.addMMA(0, a, b, "p", rng)
				w.prog = stdProg
				w.check(t, fmt.Sprintf("m64n%dk16 bf16, A %v, B %v [§10.3 D = A·B + D; §10.5 descriptor; §10.6 layout; §10.7 fragments]", n, a.L, b.L))
			})
		}
	}
}

// TestISAWGMMABF16NoSwizzleStrides: the other LBO/SBO arrangements of the
// no-swizzle K-major layout (LBO = K-adjacent core matrix, SBO = next 8 rows).
func TestISAWGMMABF16NoSwizzleStrides(t *testing.T) {
	for _, v := range [][2]int{{1, 0}, {0, 1}, {1, 1}} {
		rng := rand.New(rand.NewSource(int64(7 + v[0] + 2*v[1])))
		w := newWGTest(64, 1, wgBF16, wgBF16, rng)
		a := w.place(kLayout(0, 64, v[0]), 64, wgBF16)
		b := w.place(kLayout(0, 64, v[1]), 64, wgBF16)
		w.addMMA(0, a, b, "p", rng)
		w.prog = stdProg
		w.check(t, fmt.Sprintf("m64n64k16 bf16, A %v, B %v [§10.6 K-major no swizzle: LBO along K, SBO along M/N]", a.L, b.L))
	}
}

// TestISAWGMMABF16MNMajor: imm-trans-a / imm-trans-b = 1 (M-/N-major operands),
// every swizzle mode, with the ISA 9.0 meaning of LBO/SBO for MN-major (§10.6).
func TestISAWGMMABF16MNMajor(t *testing.T) {
	type cfg struct {
		n, swz, ta, tb, variant int
	}
	var cfgs []cfg
	for _, swz := range []int{0, 32, 64, 128} {
		for _, tr := range [][2]int{{1, 0}, {0, 1}, {1, 1}} {
			cfgs = append(cfgs, cfg{64, swz, tr[0], tr[1], 0})
		}
		cfgs = append(cfgs, cfg{32, swz, 1, 1, 1})
	}
	cfgs = append(cfgs, cfg{256, 128, 0, 1, 0}, cfg{256, 32, 1, 1, 0}, cfg{128, 64, 1, 1, 1}, cfg{16, 32, 0, 1, 0}, cfg{8, 0, 1, 1, 0})
	for _, c := range cfgs {
		c := c
		t.Run(fmt.Sprintf("N%d_swz%d_ta%d_tb%d_v%d", c.n, c.swz, c.ta, c.tb, c.variant), func(t *testing.T) {
			rng := rand.New(rand.NewSource(int64(c.n*100 + c.swz + 10*c.ta + 20*c.tb + c.variant)))
			w := newWGTest(c.n, 1, wgBF16, wgBF16, rng)
			la := kLayout(c.swz, 64, 0)
			if c.ta == 1 {
				la = mnLayout(c.swz, 64, c.variant)
			}
			lb := kLayout(c.swz, c.n, 0)
			if c.tb == 1 {
				lb = mnLayout(c.swz, c.n, c.variant)
			}
			a := w.place(la, 64, wgBF16)
			b := w.place(lb, c.n, wgBF16)
			w.addMMA(0, a, b, "p", rng)
			w.prog = stdProg
			w.check(t, fmt.Sprintf("m64n%dk16 bf16 imm-trans-a=%d imm-trans-b=%d, A %v, B %v [§10.3 transposes; §10.6 MN-major: no swizzle SBO=MN chunk, LBO=8-K group; swizzled LBO=MN atom, SBO=8-K group (ISA 9.0)]", c.n, c.ta, c.tb, a.L, b.L))
		})
	}
}

// TestISAWGMMASwizzleKSteps: several mma_async along K inside one swizzled
// tile, the descriptor start advanced by 32 bytes per step (§10.6: the swizzle
// XOR is applied to absolute shared-address bits, so this walks one TMA-style
// tile). Chained on one accumulator in one commit group.
func TestISAWGMMASwizzleKSteps(t *testing.T) {
	for _, c := range []struct {
		swz int
		typ wgType
		n   int
	}{{128, wgBF16, 64}, {64, wgBF16, 32}, {128, wgE4M3, 64}, {64, wgE4M3, 16}, {128, wgBF16, 256}} {
		steps := c.swz / 32
		rng := rand.New(rand.NewSource(int64(c.swz + c.n)))
		w := newWGTest(c.n, 1, c.typ, c.typ, rng)
		L := wgLayout{kMajor: true, swz: c.swz, sbo: uint64(8 * c.swz)}
		aBase := w.alloc(8 * 8 * c.swz)       // 64 rows
		bBase := w.alloc(c.n / 8 * 8 * c.swz) // N rows
		for j := 0; j < steps; j++ {
			sd := "p"
			if j == 0 {
				sd = "!p" // first step ignores the (random) initial D
			}
			w.addMMA(0, wgOperand{L: L, start: aBase + uint64(32*j)}, wgOperand{L: L, start: bBase + uint64(32*j)}, sd, rng)
			w.prog = append(w.prog, fmt.Sprintf("mma %d", j))
		}
		w.prog = append(w.prog, "commit", "wait 0", "store 0")
		w.check(t, fmt.Sprintf("%s m64n%d, %d K-steps in a K-major %dB-swizzled tile, start += 32 B per step [§10.6 XOR on absolute address bits; chained mma_async on one accumulator]", c.typ.name, c.n, steps, c.swz))
	}
}

// TestISAWGMMAScaleD: scale-d false means D = A·B and the old accumulator is
// not used, even if it holds NaN; true accumulates (§10.3). Both the predicate
// and the immediate forms.
func TestISAWGMMAScaleD(t *testing.T) {
	for _, sd := range []string{"!p", "0", "p", "1"} {
		rng := rand.New(rand.NewSource(3))
		w := newWGTest(32, 1, wgBF16, wgBF16, rng)
		if sd == "!p" || sd == "0" {
			for th := range w.dinit[0] {
				for i := range w.dinit[0][th] {
					w.dinit[0][th][i] = float32(math.NaN())
				}
			}
		}
		a := w.place(kLayout(128, 64, 0), 64, wgBF16)
		b := w.place(kLayout(128, 32, 0), 32, wgBF16)
		w.addMMA(0, a, b, sd, rng)
		w.prog = stdProg
		rule := "§10.3 scale-d true: D = A·B + D"
		if sd == "!p" || sd == "0" {
			rule = "§10.3 scale-d false: D = A·B, the old D (NaN here) is not used"
		}
		w.check(t, fmt.Sprintf("scale-d %q [%s]", sd, rule))
	}
}

// TestISAWGMMANegate: imm-scale-a / imm-scale-b = -1 negate A / B (§10.3).
func TestISAWGMMANegate(t *testing.T) {
	for _, s := range [][2]int{{-1, 1}, {1, -1}, {-1, -1}} {
		for _, typ := range []wgType{wgBF16, wgE4M3} {
			rng := rand.New(rand.NewSource(int64(5 + s[0] + 3*s[1])))
			w := newWGTest(64, 1, typ, typ, rng)
			a := w.place(kLayout(128, 64, 0), 64, typ)
			b := w.place(kLayout(128, 64, 0), 64, typ)
			m := w.addMMA(0, a, b, "p", rng)
			m.sa, m.sb = s[0], s[1]
			w.prog = stdProg
			w.check(t, fmt.Sprintf("%s imm-scale-a=%d imm-scale-b=%d [§10.3 -1 negates every element of A / B]", typ.name, s[0], s[1]))
		}
	}
}

// TestISAWGMMAChained: two mma_async on the same accumulator in one commit
// group (back-to-back same-shape mma_async need no fence between them, §10.2).
func TestISAWGMMAChained(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	w := newWGTest(128, 1, wgBF16, wgBF16, rng)
	for th := range w.dinit[0] {
		for i := range w.dinit[0][th] {
			w.dinit[0][th][i] = float32(math.Inf(1))
		}
	}
	a0 := w.place(kLayout(64, 64, 0), 64, wgBF16)
	b0 := w.place(kLayout(64, 128, 0), 128, wgBF16)
	a1 := w.place(kLayout(0, 64, 1), 64, wgBF16)
	b1 := w.place(mnLayout(32, 128, 0), 128, wgBF16)
	w.addMMA(0, a0, b0, "!p", rng)
	w.addMMA(0, a1, b1, "p", rng)
	w.prog = []string{"mma 0", "mma 1", "commit", "wait 0", "store 0"}
	w.check(t, "two chained mma_async (scale-d 0 then 1) in one commit group [§10.2, §10.3]")
}

// TestISAWGMMATwoGroups: two commit groups on different accumulators;
// wait_group 1 completes the older group (its accumulator may be read), then
// wait_group 0 completes the rest (§10.2).
func TestISAWGMMATwoGroups(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	w := newWGTest(64, 2, wgBF16, wgBF16, rng)
	a0 := w.place(kLayout(128, 64, 0), 64, wgBF16)
	b0 := w.place(kLayout(128, 64, 0), 64, wgBF16)
	a1 := w.place(kLayout(32, 64, 0), 64, wgBF16)
	b1 := w.place(kLayout(32, 64, 0), 64, wgBF16)
	w.addMMA(0, a0, b0, "p", rng)
	w.addMMA(1, a1, b1, "p", rng)
	w.prog = []string{"mma 0", "commit", "mma 1", "commit", "wait 1", "store 0", "wait 0", "store 1"}
	w.check(t, "two commit groups, wait_group 1 then read the first accumulator, wait_group 0 then the second [§10.2 wait_group N: at most N most recent groups pending]")
}

// TestISAWGMMAFP8: e4m3/e5m2 (and mixed) K-major operands, k32 (§10.3: FP8 has
// no transpose; .atype and .btype may differ).
func TestISAWGMMAFP8(t *testing.T) {
	for _, c := range []struct {
		at, bt wgType
		n, swz int
	}{
		{wgE4M3, wgE4M3, 64, 128}, {wgE4M3, wgE4M3, 256, 128}, {wgE4M3, wgE4M3, 64, 0}, {wgE4M3, wgE4M3, 8, 32},
		{wgE5M2, wgE5M2, 64, 64}, {wgE5M2, wgE5M2, 128, 0},
		{wgE4M3, wgE5M2, 128, 32}, {wgE5M2, wgE4M3, 16, 0}, {wgE4M3, wgE5M2, 64, 128},
	} {
		c := c
		t.Run(fmt.Sprintf("%s_%s_N%d_swz%d", c.at.name, c.bt.name, c.n, c.swz), func(t *testing.T) {
			rng := rand.New(rand.NewSource(int64(c.n + c.swz)))
			w := newWGTest(c.n, 1, c.at, c.bt, rng)
			a := w.place(kLayout(c.swz, 64, 0), 64, c.at)
			b := w.place(kLayout(c.swz, c.n, 0), c.n, c.bt)
			w.addMMA(0, a, b, "p", rng)
			w.prog = stdProg
			w.check(t, fmt.Sprintf("m64n%dk32.f32.%s.%s, A %v, B %v [§10.3 FP8 K-major, products exact, accumulation ≥ single precision]", c.n, c.at.name, c.bt.name, a.L, b.L))
		})
	}
}

// TestISAWGMMARegisterA: the bf16 A-from-registers form
//
//	wgmma.mma_async.sync.aligned.shape.f32.bf16.bf16 d, a, b-desc, scale-d, imm-scale-a, imm-scale-b, imm-trans-b;
//
// (7 operands, ISA §9.7.15.5.2 syntax; notes §10.3), with the §10.7 fragment
// map for A ([3rd-party: CUTLASS ALayout] per the notes).
func TestISAWGMMARegisterA(t *testing.T) {
	wgRegisterA(t, []wgRegACase{
		{wgBF16, 64, kLayout(128, 64, 0)},
		{wgBF16, 32, mnLayout(64, 32, 0)},
	})
}

// TestISAWGMMARegisterAFP8: the FP8 A-from-registers form (d, a, b-desc,
// scale-d, imm-scale-a, imm-scale-b), A fragments of §10.7 (k32).
func TestISAWGMMARegisterAFP8(t *testing.T) {
	wgRegisterA(t, []wgRegACase{
		{wgE4M3, 64, kLayout(128, 64, 0)},
		{wgE5M2, 24, kLayout(0, 24, 1)},
	})
}

type wgRegACase struct {
	typ wgType
	n   int
	lb  wgLayout
}

func wgRegisterA(t *testing.T, cases []wgRegACase) {
	for _, c := range cases {
		rng := rand.New(rand.NewSource(int64(c.n)))
		w := newWGTest(c.n, 1, c.typ, c.typ, rng)
		b := w.place(c.lb, c.n, c.typ)
		m := w.addMMA(0, wgOperand{}, b, "p", rng)
		m.aRegs = true
		w.prog = stdProg
		w.check(t, fmt.Sprintf("%s m64n%d with A in registers, B %v [§10.3 register-A form; §10.7 A fragments]", c.typ.name, c.n, b.L))
	}
}

// ---- sanitizer: the undefined cases of §10.2 -----------------------------------

func wgSanitizerBase(rng *rand.Rand) *wgTest {
	w := newWGTest(16, 1, wgBF16, wgBF16, rng)
	a := w.place(kLayout(128, 64, 0), 64, wgBF16)
	b := w.place(kLayout(128, 16, 0), 16, wgBF16)
	w.addMMA(0, a, b, "p", rng)
	return w
}

func expectKinds(t *testing.T, what string, err error, ok ...emu.Kind) {
	t.Helper()
	rep := asReport(err)
	if rep == nil {
		t.Errorf("%s: expected a sanitizer finding of kind %v, got none (err=%v)", what, ok, err)
		return
	}
	for _, k := range ok {
		if rep.Has(k) {
			t.Logf("%s: reported as expected: %s", what, kinds(rep))
			return
		}
	}
	t.Errorf("%s: expected a finding of kind %v, got: %s", what, ok, kinds(rep))
}

func TestISAWGMMASanitizerControl(t *testing.T) {
	w := wgSanitizerBase(rand.New(rand.NewSource(1)))
	w.prog = stdProg
	w.check(t, "control: fence, mma_async, commit, wait 0, read [no finding expected]")
}

func TestISAWGMMASanitizerReadBeforeWait(t *testing.T) {
	w := wgSanitizerBase(rand.New(rand.NewSource(1)))
	w.prog = []string{"mma 0", "commit", "raw st.global.f32 [%rd19], %d0;", "wait 0"}
	_, err := w.run(t)
	expectKinds(t, "reading an accumulator register before wgmma.wait_group [§10.2 undefined]", err, emu.KindWGMMA)

	// Two groups: after wait_group 1 the second group is still pending.
	rng := rand.New(rand.NewSource(2))
	w2 := newWGTest(16, 2, wgBF16, wgBF16, rng)
	for acc := 0; acc < 2; acc++ {
		a := w2.place(kLayout(128, 64, 0), 64, wgBF16)
		b := w2.place(kLayout(128, 16, 0), 16, wgBF16)
		w2.addMMA(acc, a, b, "p", rng)
	}
	w2.prog = []string{"mma 0", "commit", "mma 1", "commit", "wait 1", "store 1", "wait 0"}
	_, err = w2.run(t)
	expectKinds(t, "reading the accumulator of the newest group after wait_group 1 [§10.2 it may still be pending]", err, emu.KindWGMMA)
}

func TestISAWGMMASanitizerWriteAccBeforeWait(t *testing.T) {
	w := wgSanitizerBase(rand.New(rand.NewSource(1)))
	w.prog = []string{"mma 0", "commit", "raw mov.f32 %d1, 0f3F800000;", "wait 0", "store 0"}
	_, err := w.run(t)
	expectKinds(t, "overwriting an accumulator register before wgmma.wait_group [§10.2 undefined]", err, emu.KindWGMMA)
}

func TestISAWGMMASanitizerMissingFence(t *testing.T) {
	w := wgSanitizerBase(rand.New(rand.NewSource(1)))
	w.noFence = true
	w.prog = stdProg
	_, err := w.run(t)
	expectKinds(t, "no wgmma.fence before the first mma_async [§10.2 undefined]", err, emu.KindWGMMA)
}

func TestISAWGMMASanitizerRegisterWrittenAfterFence(t *testing.T) {
	w := wgSanitizerBase(rand.New(rand.NewSource(1)))
	w.prog = []string{"raw mov.f32 %d0, 0f00000000;", "mma 0", "commit", "wait 0", "store 0"}
	_, err := w.run(t)
	expectKinds(t, "accumulator written between wgmma.fence and the mma_async that uses it [§10.2 a fence is required between a register access and the mma_async]", err, emu.KindWGMMA)
}

func TestISAWGMMASanitizerMissingProxyFence(t *testing.T) {
	w := wgSanitizerBase(rand.New(rand.NewSource(1)))
	w.noProxyFence = true
	w.prog = stdProg
	_, err := w.run(t)
	expectKinds(t, "st.shared of a wgmma operand without fence.proxy.async before the wgmma [§9.6, §10.2: generic-proxy writes need fence.proxy.async]", err, emu.KindWGMMA, emu.KindRace)
}

func TestISAWGMMASanitizerSharedWriteInFlight(t *testing.T) {
	w := wgSanitizerBase(rand.New(rand.NewSource(1)))
	w.prog = []string{"mma 0", "commit",
		"raw setp.eq.u32 %p4, %r1, 0;",
		"raw @%p4 st.shared.u32 [smem], %r1;",
		"wait 0"}
	_, err := w.run(t)
	expectKinds(t, "st.shared to the A tile while the mma_async reading it is in flight [§10.2/§9.6 the async proxy read is not ordered with the generic write]", err, emu.KindWGMMA, emu.KindRace)
}

// TestISAWGMMASanitizerBaseOffset: the ISA does not say how a nonzero matrix
// base offset (descriptor bits 51:49) enters the address computation; the
// notes (§10.5 [interp]) say the emulator should trap on it.
func TestISAWGMMASanitizerBaseOffset(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	w := newWGTest(16, 1, wgBF16, wgBF16, rng)
	a := w.place(kLayout(128, 64, 0), 64, wgBF16)
	b := w.place(kLayout(128, 16, 0), 16, wgBF16)
	a.baseOff = 1
	w.addMMA(0, a, b, "p", rng)
	w.prog = stdProg
	_, err := w.run(t)
	if err == nil {
		t.Errorf("descriptor with a nonzero base offset [notes §10.5 interp: trap]: expected a finding, got none")
		return
	}
	t.Logf("descriptor with a nonzero base offset: %v", err)
}

// TestISAWGMMATwoWarpgroups: a 256-thread CTA is two warpgroups (warps 0-3 and
// 4-7 by linear thread id, §10.1); each issues its own mma_async with its own
// descriptors and accumulators. Several interleaving seeds.
func TestISAWGMMATwoWarpgroups(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		rng := rand.New(rand.NewSource(int64(seed)))
		w := newWGTestN(64, 2, 2, wgBF16, wgBF16, rng)
		w.seed = seed
		for g := 0; g < 2; g++ {
			swz := []int{128, 0}[g]
			a0 := w.place(kLayout(swz, 64, 0), 64, wgBF16)
			b0 := w.place(kLayout(swz, 64, 0), 64, wgBF16)
			a1 := w.place(kLayout(64, 64, 0), 64, wgBF16)
			b1 := w.place(mnLayout(64, 64, 0), 64, wgBF16)
			w.addMMA(0, a0, b0, "p", rng)
			w.addMMA(1, a1, b1, "p", rng)
		}
		// Both warpgroups: mma 1 uses a transposed B, so the modifiers match.
		w.prog = []string{"mma 0", "commit", "mma 1", "commit", "wait 1", "store 0", "wait 0", "store 1"}
		w.check(t, fmt.Sprintf("seed %d: two warpgroups, each with its own operands and two commit groups [§10.1 warpgroup = 4 contiguous warps]", seed))
	}
}
