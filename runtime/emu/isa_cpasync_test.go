package emu_test

// Hopper asynchronous machinery, part: cp.async (docs/ptx-isa-notes.md §11.5).
// Expected values come from the notes' rules, never from the emulator's code.

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

// ---------------------------------------------------------------------------
// 2. cp.async (§11.5)

// cpAsyncSizeKernel: lane l pre-fills its cp-size bytes of shared memory with
// 0xEE, copies cp bytes from src+l*cp with the given form, waits, and copies
// the shared bytes out. mode: "full", "srcsize" (per-lane src-size from
// k_n), "ignore" (per-lane ignore-src predicate from k_n).
func cpAsyncSizeKernel(inst string, cp int, mode string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `.visible .entry k(.param .u64 k_src, .param .u64 k_out, .param .u64 k_n)
{
	.reg .pred %%p<4>;
	.reg .b32 %%r<16>;
	.reg .b64 %%rd<16>;
	.shared .align 16 .b8 sm[512];
	ld.param.u64 %%rd1, [k_src];
	ld.param.u64 %%rd2, [k_out];
	ld.param.u64 %%rd3, [k_n];
	mov.u32 %%r1, %%tid.x;
	mov.u32 %%r2, sm;
	mad.lo.u32 %%r3, %%r1, %d, %%r2;
	mul.wide.u32 %%rd4, %%r1, %d;
	add.s64 %%rd5, %%rd1, %%rd4;
	add.s64 %%rd6, %%rd2, %%rd4;
	mul.wide.u32 %%rd7, %%r1, 4;
	add.s64 %%rd8, %%rd3, %%rd7;
	ld.global.u32 %%r4, [%%rd8];
	setp.ne.u32 %%p1, %%r4, 0;
	mov.u32 %%r5, 0xEEEEEEEE;
`, cp, cp)
	for k := 0; k < cp; k += 4 {
		fmt.Fprintf(&b, "\tst.shared.u32 [%%r3+%d], %%r5;\n", k)
	}
	switch mode {
	case "full":
		fmt.Fprintf(&b, "\t%s [%%r3], [%%rd5], %d;\n", inst, cp)
	case "srcsize":
		fmt.Fprintf(&b, "\t%s [%%r3], [%%rd5], %d, %%r4;\n", inst, cp)
	case "ignore":
		fmt.Fprintf(&b, "\t%s [%%r3], [%%rd5], %d, %%p1;\n", inst, cp)
	}
	b.WriteString("\tcp.async.commit_group;\n\tcp.async.wait_group 0;\n")
	for k := 0; k < cp; k += 4 {
		fmt.Fprintf(&b, "\tld.shared.u32 %%r6, [%%r3+%d];\n\tst.global.u32 [%%rd6+%d], %%r6;\n", k, k)
	}
	b.WriteString("\tret;\n}\n")
	return ptxHeader + b.String()
}

// TestISACpAsyncSizes: .ca with 4/8/16 and .cg with 16 bytes, full copies,
// src-size zero fill and the ignore-src predicate (§11.5.1): cp-size bytes
// are written; only src-size bytes come from src, the rest are zeros; with
// ignore-src true all cp-size bytes are zero.
func TestISACpAsyncSizes(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	forms := []struct {
		inst string
		cp   int
	}{
		{"cp.async.ca.shared.global", 4},
		{"cp.async.ca.shared.global", 8},
		{"cp.async.ca.shared::cta.global", 16},
		{"cp.async.cg.shared.global", 16},
		{"cp.async.cg.shared::cta.global.L2::128B", 16},
	}
	for _, f := range forms {
		for _, mode := range []string{"full", "srcsize", "ignore"} {
			src := randBytes(rng, 32*f.cp)
			n := make([]byte, 128)
			for l := 0; l < 32; l++ {
				v := 0
				switch mode {
				case "srcsize":
					v = l % (f.cp + 1) // 0 .. cp-size (equal: a full copy, notes §11.5.1 [interp])
				case "ignore":
					if l%3 == 0 {
						v = 1
					}
				}
				binary.LittleEndian.PutUint32(n[4*l:], uint32(v))
			}
			want := make([]byte, 32*f.cp)
			for l := 0; l < 32; l++ {
				cnt := f.cp
				v := int(binary.LittleEndian.Uint32(n[4*l:]))
				if mode == "srcsize" {
					cnt = v
				}
				if mode == "ignore" && v != 0 {
					cnt = 0
				}
				copy(want[l*f.cp:l*f.cp+cnt], src[l*f.cp:])
			}
			what := fmt.Sprintf("%s cp-size %d (%s)", f.inst, f.cp, mode)
			dev := asyncDev(t, 1, cpAsyncSizeKernel(f.inst, f.cp, mode))
			sb := mustAlloc(t, dev, src)
			ob := mustAlloc(t, dev, make([]byte, 32*f.cp))
			nb := mustAlloc(t, dev, n)
			if err := asyncRun(dev, 32, []uint64{sb.Ptr, ob.Ptr, nb.Ptr}, nil); err != nil {
				t.Errorf("%s: unexpected error/report: %v", what, errDetail(err))
				continue
			}
			got := mustDownload(t, dev, ob)
			for l := 0; l < 32; l++ {
				if d := firstDiff(got[l*f.cp:(l+1)*f.cp], want[l*f.cp:(l+1)*f.cp]); d != "" {
					t.Errorf("%s lane %d (k_n=%d): %s [§11.5.1: src-size bytes from src, the rest of cp-size zero; ignore-src: all zero]", what, l, le32(n, l), d)
				}
			}
		}
	}
}

// cpAsyncKernel wraps a body for one warp: %rd1 = src, %rd2 = out, %r1 = lane,
// shared sm[6*32*16] (slot g of lane l at sm + (g*32+l)*16), %rd3 = sm.
// Helper macros in the body: CP(g) issues cp.async.cg of lane's chunk of
// slot g; RD(g) copies lane's chunk of slot g from shared to out.
func cpAsyncKernel(body string) string {
	var b strings.Builder
	b.WriteString(ptxHeader + `.visible .entry k(.param .u64 k_src, .param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<16>;
	.reg .b64 %rd<32>;
	.shared .align 16 .b8 sm[3072];
	ld.param.u64 %rd1, [k_src];
	ld.param.u64 %rd2, [k_out];
	mov.u32 %r1, %tid.x;
	mov.u64 %rd3, sm;
	mul.wide.u32 %rd4, %r1, 16;
	add.s64 %rd5, %rd3, %rd4;
	add.s64 %rd6, %rd1, %rd4;
	add.s64 %rd7, %rd2, %rd4;
`)
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		line = strings.TrimSpace(line)
		var g int
		switch {
		case strings.HasPrefix(line, "CP("):
			fmt.Sscanf(line, "CP(%d)", &g)
			fmt.Fprintf(&b, "\tcp.async.cg.shared.global [%%rd5+%d], [%%rd6+%d], 16;\n", g*512, g*512)
		case strings.HasPrefix(line, "RD("):
			fmt.Sscanf(line, "RD(%d)", &g)
			fmt.Fprintf(&b, "\tld.shared.v4.u32 {%%r4, %%r5, %%r6, %%r7}, [%%rd5+%d];\n\tst.global.v4.u32 [%%rd7+%d], {%%r4, %%r5, %%r6, %%r7};\n", g*512, g*512)
		default:
			b.WriteString("\t" + line + "\n")
		}
	}
	b.WriteString("\tret;\n}\n")
	return b.String()
}

// TestISACpAsyncGroups: several per-thread groups; wait_group N leaves at
// most the N most recent groups pending (§11.5.2), so each read below is
// covered by the wait before it; wait_all also covers uncommitted copies; an
// empty group counts as a (trivially complete) group.
func TestISACpAsyncGroups(t *testing.T) {
	body := `
	CP(0)
	cp.async.commit_group;
	CP(1)
	cp.async.commit_group;
	CP(2)
	cp.async.commit_group;
	CP(3)
	cp.async.commit_group;
	cp.async.wait_group 3;
	RD(0)
	cp.async.wait_group 2;
	RD(1)
	cp.async.wait_group 1;
	RD(2)
	CP(4)
	cp.async.wait_all;
	RD(3)
	RD(4)
	CP(5)
	cp.async.commit_group;
	cp.async.commit_group;
	cp.async.wait_group 1;
	RD(5)`
	rng := rand.New(rand.NewSource(12))
	src := randBytes(rng, 3072)
	for seed := uint64(1); seed <= 4; seed++ {
		dev := asyncDev(t, seed, cpAsyncKernel(body))
		sb := mustAlloc(t, dev, src)
		ob := mustAlloc(t, dev, make([]byte, 3072))
		if err := asyncRun(dev, 32, []uint64{sb.Ptr, ob.Ptr}, nil); err != nil {
			t.Errorf("seed %d: every read is covered by its wait [§11.5.2]: unexpected report: %v", seed, err)
			continue
		}
		got := mustDownload(t, dev, ob)
		for g := 0; g < 6; g++ {
			if d := firstDiff(got[g*512:(g+1)*512], src[g*512:(g+1)*512]); d != "" {
				t.Errorf("seed %d slot %d: %s", seed, g, d)
			}
		}
	}
}

// TestISACpAsyncReadBeforeWait: accessing a cp.async destination before a
// wait covers it is undefined (§11.0; §11.10 #7), reported as KindAsync for
// every seed (the emulator may complete early, but the access is still
// before the completion is observed).
func TestISACpAsyncReadBeforeWait(t *testing.T) {
	cases := []struct{ what, body string }{
		{"wait_group 1 after two groups, then reading the newest group's destination", `
	CP(0)
	cp.async.commit_group;
	CP(1)
	cp.async.commit_group;
	cp.async.wait_group 1;
	RD(0)
	RD(1)
	cp.async.wait_all;`},
		{"reading the destination with no commit and no wait", `
	CP(0)
	RD(0)
	cp.async.wait_all;`},
		{"wait_group 0 does not cover uncommitted copies", `
	CP(0)
	cp.async.commit_group;
	CP(1)
	cp.async.wait_group 0;
	RD(0)
	RD(1)
	cp.async.wait_all;`},
		{"storing to the destination before the wait", `
	CP(0)
	mov.u32 %r8, 0;
	st.shared.u32 [%rd5+4], %r8;
	cp.async.wait_all;`},
	}
	rng := rand.New(rand.NewSource(13))
	src := randBytes(rng, 3072)
	for _, c := range cases {
		for seed := uint64(1); seed <= 4; seed++ {
			dev := asyncDev(t, seed, cpAsyncKernel(c.body))
			sb := mustAlloc(t, dev, src)
			ob := mustAlloc(t, dev, make([]byte, 3072))
			err := asyncRun(dev, 32, []uint64{sb.Ptr, ob.Ptr}, nil)
			expectKinds(t, fmt.Sprintf("seed %d: %s [§11.0 access before completion is observed]", seed, c.what), err, emu.KindAsync)
		}
	}
}

// cpMbarKernel: lane l copies 16 bytes (twice when two) into shared memory,
// signals the barrier with cp.async.mbarrier.arrive{.noinc}, optionally
// arrives itself, waits for phase 0, then reads lane (l^5)'s chunks.
func cpMbarKernel(init int, noinc, ordinary, two, generic bool) string {
	arr := "cp.async.mbarrier.arrive.shared::cta.b64 [bar];"
	if noinc {
		arr = "cp.async.mbarrier.arrive.noinc.shared::cta.b64 [bar];"
	}
	if generic {
		arr = strings.Replace(strings.Replace(arr, ".shared::cta", "", 1), "[bar]", "[%rd20]", 1)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `.visible .entry k(.param .u64 k_src, .param .u64 k_out)
{
	.reg .pred %%p<4>;
	.reg .b32 %%r<16>;
	.reg .b64 %%rd<32>;
	.shared .align 8 .b64 bar;
	.shared .align 16 .b8 sm[1024];
	ld.param.u64 %%rd1, [k_src];
	ld.param.u64 %%rd2, [k_out];
	mov.u32 %%r1, %%tid.x;
	mov.u64 %%rd19, bar;
	cvta.shared.u64 %%rd20, %%rd19;
	setp.ne.u32 %%p1, %%r1, 0;
	@%%p1 bra INITED;
	mbarrier.init.shared::cta.b64 [bar], %d;
INITED:
	bar.sync 0;
	mov.u64 %%rd3, sm;
	mul.wide.u32 %%rd4, %%r1, 16;
	add.s64 %%rd5, %%rd3, %%rd4;
	add.s64 %%rd6, %%rd1, %%rd4;
	add.s64 %%rd7, %%rd2, %%rd4;
	cp.async.cg.shared.global [%%rd5], [%%rd6], 16;
	%s
`, init, arr)
	if two {
		fmt.Fprintf(&b, "\tcp.async.ca.shared.global [%%rd5+512], [%%rd6+512], 16;\n\t%s\n", arr)
	}
	if ordinary {
		b.WriteString("\tmbarrier.arrive.shared::cta.b64 _, [bar];\n")
	}
	b.WriteString(`WAIT:
	mbarrier.try_wait.parity.shared::cta.b64 %p2, [bar], 0;
	@!%p2 bra WAIT;
	xor.b32 %r2, %r1, 5;
	mul.wide.u32 %rd8, %r2, 16;
	add.s64 %rd9, %rd3, %rd8;
	ld.shared.v4.u32 {%r4, %r5, %r6, %r7}, [%rd9];
	st.global.v4.u32 [%rd7], {%r4, %r5, %r6, %r7};
`)
	if two {
		b.WriteString("\tld.shared.v4.u32 {%r4, %r5, %r6, %r7}, [%rd9+512];\n\tst.global.v4.u32 [%rd7+512], {%r4, %r5, %r6, %r7};\n")
	}
	b.WriteString("\tret;\n}\n")
	return ptxHeader + b.String()
}

// TestISACpAsyncMbarrierArrive: §11.5.4 count arithmetic. Without .noinc the
// pending count is incremented at execution and the asynchronous arrive has
// zero net effect, so init counts only the ordinary arrivals; with .noinc,
// init must include one arrival per cp.async.mbarrier.arrive.noinc. After the
// wait, the copies of every participating thread are visible (§11.1.3 item 2).
func TestISACpAsyncMbarrierArrive(t *testing.T) {
	rng := rand.New(rand.NewSource(14))
	src := randBytes(rng, 1024)
	cases := []struct {
		what                          string
		init                          int
		noinc, ordinary, two, generic bool
	}{
		{"no .noinc, init 32 = ordinary arrivals only", 32, false, true, false, false},
		{"no .noinc, generic address", 32, false, true, false, true},
		{".noinc, init 64 = 32 ordinary + 32 async arrivals", 64, true, true, false, false},
		{".noinc only, init 32 = the async arrivals", 32, true, false, false, false},
		{".noinc twice per thread + ordinary: init 96 (ISA example 2)", 96, true, true, true, false},
		{".noinc twice per thread, generic address: init 64", 64, true, false, true, true},
	}
	for _, c := range cases {
		for seed := uint64(1); seed <= 3; seed++ {
			dev := asyncDev(t, seed, cpMbarKernel(c.init, c.noinc, c.ordinary, c.two, c.generic))
			sb := mustAlloc(t, dev, src)
			ob := mustAlloc(t, dev, make([]byte, 1024))
			if err := asyncRun(dev, 32, []uint64{sb.Ptr, ob.Ptr}, nil); err != nil {
				t.Errorf("seed %d: %s: unexpected error/report: %v", seed, c.what, errDetail(err))
				continue
			}
			got := mustDownload(t, dev, ob)
			parts := 1
			if c.two {
				parts = 2
			}
			for p := 0; p < parts; p++ {
				for l := 0; l < 32; l++ {
					s := p*512 + (l^5)*16
					if d := firstDiff(got[p*512+l*16:p*512+l*16+16], src[s:s+16]); d != "" {
						t.Errorf("seed %d: %s: lane %d reading lane %d's copy %d: %s", seed, c.what, l, l^5, p, d)
					}
				}
			}
		}
	}
	// Without .noinc and without ordinary arrivals, the increments and the
	// asynchronous arrivals cancel: the phase (count 32) never completes.
	for seed := uint64(1); seed <= 2; seed++ {
		dev := asyncDev(t, seed, cpMbarKernel(32, false, false, false, false))
		sb := mustAlloc(t, dev, src)
		ob := mustAlloc(t, dev, make([]byte, 1024))
		err := asyncRun(dev, 32, []uint64{sb.Ptr, ob.Ptr}, nil)
		expectKinds(t, fmt.Sprintf("seed %d: cp.async.mbarrier.arrive without .noinc is net zero, nothing else arrives on an init-32 barrier [§11.5.4]", seed), err, emu.KindDeadlock)
	}
}

// TestISACpAsyncSanitizer: misaligned addresses (§11.5.1: dst and src
// naturally aligned to cp-size) and forms the ISA does not allow.
func TestISACpAsyncSanitizer(t *testing.T) {
	k := func(inst string) string {
		return ptxHeader + `.visible .entry k(.param .u64 k_src, .param .u64 k_out)
{
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	.shared .align 16 .b8 sm[64];
	ld.param.u64 %rd1, [k_src];
	ld.param.u64 %rd2, [k_out];
	mov.u64 %rd3, sm;
	` + inst + `
	cp.async.wait_all;
	ret;
}
`
	}
	src := fillBytes(64, 7)
	out := make([]byte, 16)
	_, _, err := launch(t, 1, k("cp.async.ca.shared.global [%rd3+8], [%rd1+24], 8;"), 1, src, out)
	expectNone(t, "cp.async.ca 8 bytes at 8-aligned dst and src", err)
	_, _, err = launch(t, 1, k("cp.async.ca.shared.global [%rd3+4], [%rd1], 8;"), 1, src, out)
	expectKinds(t, "cp.async.ca 8 bytes to a 4-aligned shared address [§11.5.1 aligned to cp-size]", err, emu.KindMisaligned)
	_, _, err = launch(t, 1, k("cp.async.cg.shared.global [%rd3], [%rd1+8], 16;"), 1, src, out)
	expectKinds(t, "cp.async.cg 16 bytes from an 8-aligned global address [§11.5.1 aligned to cp-size]", err, emu.KindMisaligned)
	_, _, err = launch(t, 1, k("cp.async.ca.shared.global [%rd3+2], [%rd1+2], 4;"), 1, src, out)
	expectKinds(t, "cp.async.ca 4 bytes at 2-aligned addresses", err, emu.KindMisaligned)
	expectError(t, "cp.async.cg with cp-size 8 [§11.5.1 .cg allows only 16]", 1, k("cp.async.cg.shared.global [%rd3], [%rd1], 8;"), 1, src, out)
	expectError(t, "cp.async.ca with cp-size 2 [§11.5.1 cp-size in {4, 8, 16}]", 1, k("cp.async.ca.shared.global [%rd3], [%rd1], 2;"), 1, src, out)
	expectError(t, "cp.async src-size 12 > cp-size 8 [§11.5.1 undefined]", 1, k("mov.u32 %r1, 12;\n\tcp.async.ca.shared.global [%rd3], [%rd1], 8, %r1;"), 1, src, out)
}
