package emu_test

// Warp-collective helpers, written from docs/ptx-isa-notes.md: ldmatrix and
// stmatrix (§11.4), elect.sync (§9.4, §11.3.1), redux.sync (§9.3, §11.3.2)
// and setmaxnreg (§11.3.3). The fragment formulas are written here from the
// notes' table; expected values never come from the emulator's code.

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

// ---------------------------------------------------------------------------
// ldmatrix / stmatrix (§11.4)

// ldmFrag returns, for lane l and matrix j's register, which memory element
// (row i, element c) lands in the low and the high half (§11.4.3 table):
//
//	no .trans: low M_j[l/4][2(l%4)],   high M_j[l/4][2(l%4)+1]
//	.trans:    low M_j[2(l%4)][l/4],   high M_j[2(l%4)+1][l/4]
func ldmFrag(l int, trans bool) (loRow, loCol, hiRow, hiCol int) {
	if !trans {
		return l / 4, 2 * (l % 4), l / 4, 2*(l%4) + 1
	}
	return 2 * (l % 4), l / 4, 2*(l%4) + 1, l / 4
}

// TestISAMatrixFragmentSelfCheck: ldmFrag against the notes' check table
// (§11.4.3) and stmatrix's inverse formulas.
func TestISAMatrixFragmentSelfCheck(t *testing.T) {
	checks := []struct {
		lane               int
		trans              bool
		loR, loC, hiR, hiC int
	}{
		{0, false, 0, 0, 0, 1}, {1, false, 0, 2, 0, 3}, {4, false, 1, 0, 1, 1}, {31, false, 7, 6, 7, 7},
		{1, true, 2, 0, 3, 0}, {4, true, 0, 1, 1, 1},
	}
	for _, c := range checks {
		a, b, d, e := ldmFrag(c.lane, c.trans)
		if a != c.loR || b != c.loC || d != c.hiR || e != c.hiC {
			t.Errorf("lane %d trans=%v: (%d,%d)/(%d,%d), notes' table says (%d,%d)/(%d,%d)", c.lane, c.trans, a, b, d, e, c.loR, c.loC, c.hiR, c.hiC)
		}
	}
	// stmatrix: M[i][c] from lane 4i + c/2 half c%2 (plain), lane 4c + i/2 half i%2 (.trans).
	for _, trans := range []bool{false, true} {
		seen := map[[2]int]bool{}
		for l := 0; l < 32; l++ {
			a, b, d, e := ldmFrag(l, trans)
			for h, rc := range [][2]int{{a, b}, {d, e}} {
				seen[rc] = true
				i, c := rc[0], rc[1]
				wl, wh := 4*i+c/2, c%2
				if trans {
					wl, wh = 4*c+i/2, i%2
				}
				if wl != l || wh != h {
					t.Errorf("trans=%v: element (%d,%d): ldmatrix gives lane %d half %d, stmatrix formula lane %d half %d", trans, i, c, l, h, wl, wh)
				}
			}
		}
		if len(seen) != 64 {
			t.Errorf("trans=%v: fragments cover %d of 64 elements", trans, len(seen))
		}
	}
}

func matrixRegs(num int, base int) string {
	var r []string
	for j := 0; j < num; j++ {
		r = append(r, fmt.Sprintf("%%r%d", base+j))
	}
	return "{" + strings.Join(r, ", ") + "}"
}

// matrixKernel: one warp copies k_img (4096 bytes) into shared sm, each lane
// takes its row offset from k_addr, then body runs; with store, sm is copied
// back to k_out afterwards, otherwise body stores registers itself.
// Registers: %r6 = lane's shared row address (32-bit), %rd9 = its generic
// address, %rd11 = k_out + 16*lane, %rd13 = k_regs + 16*lane.
func matrixKernel(body string, copyBack bool) string {
	var b strings.Builder
	b.WriteString(ptxHeader + `.visible .entry k(.param .u64 k_img, .param .u64 k_addr, .param .u64 k_out, .param .u64 k_regs)
{
	.reg .pred %p<4>;
	.reg .b32 %r<32>;
	.reg .b64 %rd<16>;
	.shared .align 16 .b8 pad[32];
	.shared .align 16 .b8 sm[4096];
	ld.param.u64 %rd1, [k_img];
	ld.param.u64 %rd2, [k_addr];
	ld.param.u64 %rd3, [k_out];
	ld.param.u64 %rd12, [k_regs];
	mov.u32 %r1, %tid.x;
	mov.u32 %r2, sm;
	mul.lo.u32 %r3, %r1, 16;
FILL:
	cvt.u64.u32 %rd4, %r3;
	add.s64 %rd5, %rd1, %rd4;
	ld.global.v4.u32 {%r20, %r21, %r22, %r23}, [%rd5];
	add.u32 %r4, %r2, %r3;
	st.shared.v4.u32 [%r4], {%r20, %r21, %r22, %r23};
	add.u32 %r3, %r3, 512;
	setp.lt.u32 %p1, %r3, 4096;
	@%p1 bra FILL;
	bar.sync 0;
	mul.wide.u32 %rd6, %r1, 4;
	add.s64 %rd7, %rd2, %rd6;
	ld.global.u32 %r5, [%rd7];
	add.u32 %r6, %r2, %r5;
	cvt.u64.u32 %rd8, %r6;
	cvta.shared.u64 %rd9, %rd8;
	mul.wide.u32 %rd10, %r1, 16;
	add.s64 %rd11, %rd3, %rd10;
	add.s64 %rd13, %rd12, %rd10;
`)
	b.WriteString(body)
	if copyBack {
		b.WriteString(`	bar.sync 0;
	mul.lo.u32 %r3, %r1, 16;
BACK:
	add.u32 %r4, %r2, %r3;
	ld.shared.v4.u32 {%r20, %r21, %r22, %r23}, [%r4];
	cvt.u64.u32 %rd4, %r3;
	add.s64 %rd5, %rd3, %rd4;
	st.global.v4.u32 [%rd5], {%r20, %r21, %r22, %r23};
	add.u32 %r3, %r3, 512;
	setp.lt.u32 %p1, %r3, 4096;
	@%p1 bra BACK;
`)
	}
	b.WriteString("\tret;\n}\n")
	return b.String()
}

// matrixRows picks 32 distinct 16-byte rows of the 4096-byte buffer in random
// order (non-contiguous), as byte offsets; lanes >= used get bad+offset.
func matrixRows(rng *rand.Rand, used, bad int) []uint32 {
	perm := rng.Perm(256)
	rows := make([]uint32, 32)
	for l := range rows {
		rows[l] = uint32(perm[l] * 16)
		if l >= used {
			rows[l] += uint32(bad)
		}
	}
	return rows
}

func u32Bytes(v []uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return b
}

// runMatrix runs a matrix kernel and returns k_out (4096 bytes) and the error.
func runMatrix(t *testing.T, seed uint64, src string, img []byte, rows []uint32, regs []byte) ([]byte, error) {
	t.Helper()
	dev := asyncDev(t, seed, src)
	ib := mustAlloc(t, dev, img)
	ab := mustAlloc(t, dev, u32Bytes(rows))
	ob := mustAlloc(t, dev, make([]byte, 4096))
	if regs == nil {
		regs = make([]byte, 512)
	}
	rb := mustAlloc(t, dev, regs)
	err := asyncRun(dev, 32, []uint64{ib.Ptr, ab.Ptr, ob.Ptr, rb.Ptr}, nil)
	return mustDownload(t, dev, ob), err
}

func ldmatrixInst(num int, trans, generic bool) string {
	tr := ""
	if trans {
		tr = ".trans"
	}
	if generic {
		return fmt.Sprintf("ldmatrix.sync.aligned.m8n8.x%d%s.b16 %s, [%%rd9];", num, tr, matrixRegs(num, 10))
	}
	return fmt.Sprintf("ldmatrix.sync.aligned.m8n8.x%d%s.shared.b16 %s, [%%r6];", num, tr, matrixRegs(num, 10))
}

func stmatrixInst(num int, trans, generic bool) string {
	tr := ""
	if trans {
		tr = ".trans"
	}
	if generic {
		return fmt.Sprintf("stmatrix.sync.aligned.m8n8.x%d%s.b16 [%%rd9], %s;", num, tr, matrixRegs(num, 10))
	}
	return fmt.Sprintf("stmatrix.sync.aligned.m8n8.x%d%s.shared::cta.b16 [%%r6], %s;", num, tr, matrixRegs(num, 10))
}

// TestISALdmatrix: .x1/.x2/.x4, with and without .trans, .shared and generic
// addresses; every lane's registers against §11.4.3, with rows given by
// lanes 8j..8j+7 as arbitrary 16-byte-aligned addresses (§11.4.2). Lanes
// whose address is unused hold misaligned addresses, which must be ignored.
func TestISALdmatrix(t *testing.T) {
	rng := rand.New(rand.NewSource(51))
	img := make([]byte, 4096)
	for i := 0; i < 2048; i++ {
		binary.LittleEndian.PutUint16(img[2*i:], uint16(i*13+7))
	}
	elem := func(off uint32) uint16 { return binary.LittleEndian.Uint16(img[off:]) }
	for _, num := range []int{1, 2, 4} {
		for _, trans := range []bool{false, true} {
			for _, generic := range []bool{false, true} {
				what := ldmatrixInst(num, trans, generic)
				var body strings.Builder
				body.WriteString("\t" + what + "\n")
				for j := 0; j < num; j++ {
					fmt.Fprintf(&body, "\tst.global.u32 [%%rd11+%d], %%r%d;\n", 4*j, 10+j)
				}
				rows := matrixRows(rng, 8*num, 2)
				out, err := runMatrix(t, 1, matrixKernel(body.String(), false), img, rows, nil)
				if err != nil {
					t.Errorf("%s: unexpected error/report: %v", what, errDetail(err))
					continue
				}
				bad := 0
				for l := 0; l < 32; l++ {
					for j := 0; j < num; j++ {
						lr, lc, hr, hc := ldmFrag(l, trans)
						lo, hi := elem(rows[8*j+lr]+uint32(2*lc)), elem(rows[8*j+hr]+uint32(2*hc))
						want := uint32(lo) | uint32(hi)<<16
						if g := le32(out, 4*l+j); g != want && bad < 6 {
							bad++
							t.Errorf("%s lane %d r%d: want %#08x (low M%d[%d][%d], high M%d[%d][%d], §11.4.3), got %#08x", what, l, j, want, j, lr, lc, j, hr, hc, g)
						}
					}
				}
			}
		}
	}
}

// TestISAStmatrix: stmatrix is the inverse of ldmatrix (§11.4.3): M_j[i][c]
// comes from lane 4i+c/2, half c%2 (plain) or lane 4c+i/2, half i%2
// (.trans), written at addr[8j+i] + 2c; nothing else in shared memory
// changes. A round trip ldmatrix -> stmatrix at other rows copies matrices.
func TestISAStmatrix(t *testing.T) {
	rng := rand.New(rand.NewSource(52))
	img := randBytes(rng, 4096)
	for _, num := range []int{1, 2, 4} {
		for _, trans := range []bool{false, true} {
			for _, generic := range []bool{false, true} {
				what := stmatrixInst(num, trans, generic)
				regs := randBytes(rng, 512)
				var body strings.Builder
				for j := 0; j < num; j++ {
					fmt.Fprintf(&body, "\tld.global.u32 %%r%d, [%%rd13+%d];\n", 10+j, 4*j)
				}
				body.WriteString("\t" + what + "\n")
				rows := matrixRows(rng, 8*num, 0)
				out, err := runMatrix(t, 1, matrixKernel(body.String(), true), img, rows, regs)
				if err != nil {
					t.Errorf("%s: unexpected error/report: %v", what, errDetail(err))
					continue
				}
				want := append([]byte(nil), img...)
				for j := 0; j < num; j++ {
					for i := 0; i < 8; i++ {
						for c := 0; c < 8; c++ {
							l, h := 4*i+c/2, c%2
							if trans {
								l, h = 4*c+i/2, i%2
							}
							v := uint16(binary.LittleEndian.Uint32(regs[16*l+4*j:]) >> (16 * h))
							binary.LittleEndian.PutUint16(want[rows[8*j+i]+uint32(2*c):], v)
						}
					}
				}
				if d := firstDiff(out, want); d != "" {
					t.Errorf("%s: shared memory after the store: %s (row offsets %v)", what, d, rows[:8*num])
				}
			}
		}
	}
	// Round trip: ldmatrix.x4 from rows A, stmatrix.x4 (same .trans) to rows B.
	for _, trans := range []bool{false, true} {
		body := "\t" + ldmatrixInst(4, trans, false) + "\n\tadd.u32 %r6, %r6, 2048;\n\t" + stmatrixInst(4, trans, false) + "\n"
		perm := rng.Perm(128) // rows A: 32 distinct rows in [0, 2048); rows B = A + 2048
		src := make([]uint32, 32)
		for l := range src {
			src[l] = uint32(perm[l] * 16)
		}
		out, err := runMatrix(t, 1, matrixKernel(body, true), img, src, nil)
		if err != nil {
			t.Errorf("ldmatrix/stmatrix round trip trans=%v: unexpected error/report: %v", trans, errDetail(err))
			continue
		}
		want := append([]byte(nil), img...)
		for _, r := range src {
			copy(want[r+2048:r+2048+16], img[r:r+16])
		}
		if d := firstDiff(out, want); d != "" {
			t.Errorf("ldmatrix then stmatrix (trans=%v) must copy each row: %s", trans, d)
		}
	}
}

// TestISAMatrixSanitizer: §11.4.4 undefined cases.
func TestISAMatrixSanitizer(t *testing.T) {
	rng := rand.New(rand.NewSource(53))
	img := randBytes(rng, 4096)
	ld := "\t" + ldmatrixInst(4, false, false) + "\n\tst.global.u32 [%rd11], %r10;\n"
	st := "\tld.global.u32 %r10, [%rd13];\n\tld.global.u32 %r11, [%rd13+4];\n\tld.global.u32 %r12, [%rd13+8];\n\tld.global.u32 %r13, [%rd13+12];\n\t" + stmatrixInst(4, false, false) + "\n"
	rows := matrixRows(rng, 32, 0)
	_, err := runMatrix(t, 1, matrixKernel(ld, false), img, rows, nil)
	expectNone(t, "control: ldmatrix.x4 with 16-aligned rows", err)
	mis := append([]uint32(nil), rows...)
	mis[13] += 8
	_, err = runMatrix(t, 1, matrixKernel(ld, false), img, mis, nil)
	expectKinds(t, "ldmatrix.x4 with lane 13's row address 8- but not 16-aligned [§11.4.2]", err, emu.KindMisaligned)
	_, err = runMatrix(t, 1, matrixKernel(st, true), img, mis, nil)
	expectKinds(t, "stmatrix.x4 with lane 13's row address 8- but not 16-aligned [§11.4.2]", err, emu.KindMisaligned)
	// Divergent: only lanes 0..15 execute the ldmatrix.
	div := "\tsetp.ge.u32 %p2, %r1, 16;\n\t@%p2 bra SKIP;\n" + ld + "SKIP:\n"
	_, err = runMatrix(t, 1, matrixKernel(div, false), img, rows, nil)
	expectKinds(t, "ldmatrix executed by half of the warp [§11.4.4 .aligned: divergent execution undefined]", err, emu.KindDivergence, emu.KindDeadlock, emu.KindBarrier)
	// A generic address into global memory.
	glob := "\tmov.u64 %rd9, %rd1;\n\tadd.s64 %rd9, %rd9, %rd10;\n\t" + ldmatrixInst(1, false, true) + "\n\tst.global.u32 [%rd11], %r10;\n"
	_, err = runMatrix(t, 1, matrixKernel(glob, false), img, rows, nil)
	if err == nil {
		t.Errorf("ldmatrix through a generic address into global memory: expected an error [§11.4.4 undefined outside shared memory]")
	}
}

// ---------------------------------------------------------------------------
// elect.sync (§9.4, §11.3.1)

// electKernel: in each of two warps, lanes in mask execute elect.sync twice
// (same mask, second with the sink and the mask in a register), and record
// d, p and the second p. Lanes < exitBelow exit first. Others skip.
func electKernel(mask uint32, exitBelow int) string {
	return ptxHeader + fmt.Sprintf(`.visible .entry k(.param .u64 k_out)
{
	.reg .pred %%p<8>;
	.reg .b32 %%r<16>;
	.reg .b64 %%rd<8>;
	ld.param.u64 %%rd1, [k_out];
	mov.u32 %%r1, %%tid.x;
	and.b32 %%r2, %%r1, 31;
	setp.lt.u32 %%p5, %%r2, %d;
	@%%p5 exit;
	mov.u32 %%r3, %d;
	shr.b32 %%r4, %%r3, %%r2;
	and.b32 %%r4, %%r4, 1;
	setp.eq.u32 %%p1, %%r4, 0;
	@%%p1 bra SKIP;
	elect.sync %%r5|%%p2, %d;
	elect.sync _|%%p3, %%r3;
	selp.u32 %%r6, 1, 0, %%p2;
	selp.u32 %%r7, 1, 0, %%p3;
	mul.wide.u32 %%rd2, %%r1, 12;
	add.s64 %%rd3, %%rd1, %%rd2;
	st.global.u32 [%%rd3], %%r5;
	st.global.u32 [%%rd3+4], %%r6;
	st.global.u32 [%%rd3+8], %%r7;
SKIP:
	ret;
}
`, exitBelow, mask, mask)
}

// TestISAElectSync: one leader per warp among the participating lanes; d is
// its laneid in every participant, p is true only in it; the same mask
// elects the same lane (deterministic). Which lane is not specified (§9.4),
// so the test does not require the lowest; it logs the choice.
func TestISAElectSync(t *testing.T) {
	cases := []struct {
		mask      uint32
		exitBelow int
	}{
		{0xFFFFFFFF, 0}, {0x0000FF00, 0}, {0x80000001, 0}, {0x00000010, 0}, {0xA5A5A5A5, 0}, {0xFFFFFFFF, 4},
	}
	for _, c := range cases {
		what := fmt.Sprintf("elect.sync membermask %#08x (lanes below %d exited)", c.mask, c.exitBelow)
		dev := asyncDev(t, 1, electKernel(c.mask, c.exitBelow))
		ob := mustAlloc(t, dev, fillBytes(64*12, 0xFF))
		if err := asyncRun(dev, 64, []uint64{ob.Ptr}, nil); err != nil {
			if c.exitBelow > 0 {
				// The ISA says elect.sync waits for "all threads in
				// membermask" and, unlike redux.sync, does not mention
				// exited threads; the notes' [interp] (§11.3.1) elects among
				// the lanes that execute it. Not an ISA rule: logged only.
				t.Logf("%s: reported (ISA silent on exited lanes for elect.sync): %v", what, errDetail(err))
			} else {
				t.Errorf("%s: unexpected error/report: %v", what, errDetail(err))
			}
			continue
		}
		out := mustDownload(t, dev, ob)
		part := c.mask &^ (uint32(1)<<uint(c.exitBelow) - 1)
		for w := 0; w < 2; w++ {
			leader := -1
			for l := 0; l < 32; l++ {
				tid := 32*w + l
				d, p, p2 := le32(out, 3*tid), le32(out, 3*tid+1), le32(out, 3*tid+2)
				if part&(1<<uint(l)) == 0 {
					if d != 0xFFFFFFFF || p != 0xFFFFFFFF {
						t.Errorf("%s warp %d lane %d: not a participant, but it wrote d=%d p=%d", what, w, l, d, p)
					}
					continue
				}
				if leader < 0 {
					leader = int(d)
				}
				if int(d) != leader {
					t.Errorf("%s warp %d lane %d: d = %d, other participants got %d (d is the leader's laneid in every thread)", what, w, l, d, leader)
				}
				if want := uint32(0); l == leader {
					if p != 1 || p2 != 1 {
						t.Errorf("%s warp %d: leader lane %d has p=%d, second elect p=%d (want 1, deterministic)", what, w, l, p, p2)
					}
				} else if p != want || p2 != want {
					t.Errorf("%s warp %d lane %d: p=%d second p=%d, want 0 (true only in the leader)", what, w, l, p, p2)
				}
			}
			if leader < 0 || leader > 31 || part&(1<<uint(leader)) == 0 {
				t.Errorf("%s warp %d: leader %d is not a participating lane (mask %#08x)", what, w, leader, part)
			} else if w == 0 {
				t.Logf("%s: leader lane %d (lowest participant %d)", what, leader, bits.TrailingZeros32(part))
			}
		}
	}
}

// ---------------------------------------------------------------------------
// redux.sync (§9.3, §11.3.2)

var reduxOps = []struct {
	inst string
	f    func(a, b uint32) uint32
}{
	{"redux.sync.add.u32", func(a, b uint32) uint32 { return a + b }},
	{"redux.sync.add.s32", func(a, b uint32) uint32 { return a + b }},
	{"redux.sync.min.u32", func(a, b uint32) uint32 { return min(a, b) }},
	{"redux.sync.max.u32", func(a, b uint32) uint32 { return max(a, b) }},
	{"redux.sync.min.s32", func(a, b uint32) uint32 { return uint32(min(int32(a), int32(b))) }},
	{"redux.sync.max.s32", func(a, b uint32) uint32 { return uint32(max(int32(a), int32(b))) }},
	{"redux.sync.and.b32", func(a, b uint32) uint32 { return a & b }},
	{"redux.sync.or.b32", func(a, b uint32) uint32 { return a | b }},
	{"redux.sync.xor.b32", func(a, b uint32) uint32 { return a ^ b }},
}

// reduxKernel: lanes in mask (and not exited) run every op of reduxOps on
// in[tid] and store result k at out[tid*9+k]; other lanes skip.
func reduxKernel(mask uint32, exitFrom int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `.visible .entry k(.param .u64 k_in, .param .u64 k_out)
{
	.reg .pred %%p<8>;
	.reg .b32 %%r<32>;
	.reg .b64 %%rd<8>;
	ld.param.u64 %%rd1, [k_in];
	ld.param.u64 %%rd2, [k_out];
	mov.u32 %%r1, %%tid.x;
	and.b32 %%r2, %%r1, 31;
	setp.ge.u32 %%p5, %%r2, %d;
	@%%p5 exit;
	mov.u32 %%r3, %d;
	shr.b32 %%r4, %%r3, %%r2;
	and.b32 %%r4, %%r4, 1;
	setp.eq.u32 %%p1, %%r4, 0;
	@%%p1 bra SKIP;
	mul.wide.u32 %%rd3, %%r1, 4;
	add.s64 %%rd4, %%rd1, %%rd3;
	ld.global.u32 %%r5, [%%rd4];
	mul.wide.u32 %%rd5, %%r1, %d;
	add.s64 %%rd6, %%rd2, %%rd5;
`, exitFrom, mask, 4*len(reduxOps))
	for k, op := range reduxOps {
		m := fmt.Sprint(mask)
		if k%2 == 1 {
			m = "%r3" // membermask from a register
		}
		fmt.Fprintf(&b, "\t%s %%r%d, %%r5, %s;\n", op.inst, 10+k, m)
	}
	for k := range reduxOps {
		fmt.Fprintf(&b, "\tst.global.u32 [%%rd6+%d], %%r%d;\n", 4*k, 10+k)
	}
	b.WriteString("SKIP:\n\tret;\n}\n")
	return ptxHeader + b.String()
}

// TestISAReduxSync: add/min/max (.u32, .s32), and/or/xor (.b32) over the
// non-exited lanes of membermask, full and partial masks, two warps with
// different data; every participant gets the result, .add wraps modulo 2^32,
// .s32 compares signed and .u32 unsigned (§11.3.2).
func TestISAReduxSync(t *testing.T) {
	rng := rand.New(rand.NewSource(61))
	in := make([]uint32, 64)
	for i := range in {
		switch i % 4 {
		case 0:
			in[i] = rng.Uint32() // large: .add wraps
		case 1:
			in[i] = uint32(-int32(rng.Intn(1000))) // negative s32 / huge u32
		default:
			in[i] = uint32(rng.Intn(1 << 20))
		}
	}
	cases := []struct {
		mask     uint32
		exitFrom int
	}{
		{0xFFFFFFFF, 32}, {0x0F0F00F1, 32}, {0x00010000, 32}, {0xFFFF0000, 32}, {0x00000006, 32}, {0xFFFFFFFF, 28},
	}
	for _, c := range cases {
		dev := asyncDev(t, 1, reduxKernel(c.mask, c.exitFrom))
		ib := mustAlloc(t, dev, u32Bytes(in))
		ob := mustAlloc(t, dev, fillBytes(64*4*len(reduxOps), 0xEE))
		if err := asyncRun(dev, 64, []uint64{ib.Ptr, ob.Ptr}, nil); err != nil {
			t.Errorf("redux.sync mask %#08x (lanes >= %d exited): unexpected error/report: %v", c.mask, c.exitFrom, errDetail(err))
			continue
		}
		out := mustDownload(t, dev, ob)
		part := c.mask
		if c.exitFrom < 32 {
			part &= uint32(1)<<uint(c.exitFrom) - 1
		}
		for w := 0; w < 2; w++ {
			for k, op := range reduxOps {
				var acc uint32
				first := true
				for l := 0; l < 32; l++ {
					if part&(1<<uint(l)) != 0 {
						if first {
							acc, first = in[32*w+l], false
						} else {
							acc = op.f(acc, in[32*w+l])
						}
					}
				}
				for l := 0; l < 32; l++ {
					g := le32(out, (32*w+l)*len(reduxOps)+k)
					want := acc
					if part&(1<<uint(l)) == 0 {
						want = 0xEEEEEEEE
					}
					if g != want {
						t.Errorf("%s mask %#08x (lanes >= %d exited) warp %d lane %d: want %#x, got %#x", op.inst, c.mask, c.exitFrom, w, l, want, g)
					}
				}
			}
		}
	}
}

// ---------------------------------------------------------------------------
// setmaxnreg (§11.3.3)

func setmaxnregKernel(body string) string {
	return ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	ld.param.u64 %rd1, [k_out];
	mov.u32 %r1, %tid.x;
	shr.u32 %r2, %r1, 7;
	setp.eq.u32 %p1, %r2, 0;
` + body + `
	mul.wide.u32 %rd2, %r1, 4;
	add.s64 %rd3, %rd1, %rd2;
	st.global.u32 [%rd3], %r1;
	ret;
}
`
}

// TestISASetmaxnreg: valid register counts (24..256, multiples of 8) run with
// no effect on results; the same instruction by all warps of a warpgroup,
// separated by a barrier; different warpgroups may use different values.
// Invalid counts are refused at load.
func TestISASetmaxnreg(t *testing.T) {
	valid := map[string]string{
		"dec 40, bar.sync, inc 232": `
	setmaxnreg.dec.sync.aligned.u32 40;
	bar.sync 0;
	setmaxnreg.inc.sync.aligned.u32 232;`,
		"boundaries: dec 24, bar.sync, inc 256": `
	setmaxnreg.dec.sync.aligned.u32 24;
	bar.sync 0;
	setmaxnreg.inc.sync.aligned.u32 256;`,
		"producer warpgroup dec 40, consumer warpgroup inc 232": `
	@%p1 bra PRODUCER;
	setmaxnreg.inc.sync.aligned.u32 232;
	bra JOIN;
PRODUCER:
	setmaxnreg.dec.sync.aligned.u32 40;
JOIN:`,
	}
	for name, body := range valid {
		for seed := uint64(1); seed <= 2; seed++ {
			dev := asyncDev(t, seed, setmaxnregKernel(body))
			ob := mustAlloc(t, dev, make([]byte, 256*4))
			if err := asyncRun(dev, 256, []uint64{ob.Ptr}, nil); err != nil {
				t.Errorf("setmaxnreg %s (seed %d): unexpected error/report: %v", name, seed, errDetail(err))
				continue
			}
			out := mustDownload(t, dev, ob)
			for i := 0; i < 256; i++ {
				if le32(out, i) != uint32(i) {
					t.Errorf("setmaxnreg %s: out[%d] = %d", name, i, le32(out, i))
					break
				}
			}
		}
	}
	for _, n := range []int{0, 8, 16, 20, 23, 25, 100, 252, 257, 260, 264, 512} {
		src := setmaxnregKernel(fmt.Sprintf("\tsetmaxnreg.dec.sync.aligned.u32 %d;", n))
		if _, err := isaDevice(1).LoadPTX(src); err == nil {
			t.Errorf("setmaxnreg.dec %d: must be refused at load [§11.3.3: imm-reg-count in [24, 256], a multiple of 8]", n)
		}
	}
	for _, n := range []int{24, 32, 128, 248, 256} {
		src := setmaxnregKernel(fmt.Sprintf("\tsetmaxnreg.inc.sync.aligned.u32 %d;", n))
		if _, err := isaDevice(1).LoadPTX(src); err != nil {
			t.Errorf("setmaxnreg.inc %d: valid, but refused at load: %v", n, err)
		}
	}
}
