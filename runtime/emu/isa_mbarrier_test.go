package emu_test

// Hopper asynchronous machinery, part: mbarrier (docs/ptx-isa-notes.md §11.1); launch helpers in isa_async_test.go.
// Expected values come from the notes' rules, never from the emulator's code.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

// ---------------------------------------------------------------------------
// 1. mbarrier (§11.1)

// mbScript builds a single-thread kernel that executes mbarrier instructions
// and records predicates and counts, in order, to out[4*i].
type mbScript struct {
	body strings.Builder
	want []uint32
	why  []string
}

func (s *mbScript) raw(lines ...string) {
	for _, l := range lines {
		s.body.WriteString("\t" + l + "\n")
	}
}

// pred runs inst (which writes %p1) and records %p1.
func (s *mbScript) pred(inst string, want bool, why string) {
	s.raw(inst, "selp.u32 %r9, 1, 0, %p1;", fmt.Sprintf("st.global.u32 [%%rd1+%d], %%r9;", 4*len(s.want)))
	w := uint32(0)
	if want {
		w = 1
	}
	s.want = append(s.want, w)
	s.why = append(s.why, inst+" — "+why)
}

// val runs inst (which writes %r9) and records %r9.
func (s *mbScript) val(inst string, want uint32, why string) {
	s.raw(inst, fmt.Sprintf("st.global.u32 [%%rd1+%d], %%r9;", 4*len(s.want)))
	s.want = append(s.want, want)
	s.why = append(s.why, inst+" — "+why)
}

func (s *mbScript) kernel() string {
	return ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<16>;
	.reg .b64 %rd<64>;
	.shared .align 8 .b64 bars[4];
	ld.param.u64 %rd1, [k_out];
	mov.u64 %rd2, bars;
	cvta.shared.u64 %rd3, %rd2;
` + s.body.String() + "\tret;\n}\n"
}

// TestISAMbarrierSequence: one thread drives four barriers through the
// phase/arrival/tx rules of §11.1.2-11.1.4 and records every wait result.
func TestISAMbarrierSequence(t *testing.T) {
	s := &mbScript{}
	tw := func(addr, st string) string {
		return "mbarrier.test_wait.shared::cta.b64 %p1, " + addr + ", " + st + ";"
	}
	par := func(addr string, p int) string {
		return fmt.Sprintf("mbarrier.test_wait.parity.shared::cta.b64 %%p1, %s, %d;", addr, p)
	}
	// Barrier A (count 2): state and parity waits, arrive with count, tx-count.
	A := "[%rd2]"
	s.raw("mbarrier.init.shared::cta.b64 [%rd2], 2;")
	s.pred(par(A, 0), false, "fresh barrier: phase 0 is current and incomplete")
	s.pred(par(A, 1), true, "parity 1 on a fresh barrier returns True (phase -1 is the completed predecessor, §11.1.4 idiom)")
	s.pred("mbarrier.try_wait.parity.shared::cta.b64 %p1, [%rd2], 1;", true, "try_wait.parity 1 on a fresh barrier returns True at once")
	s.raw("mbarrier.arrive.shared::cta.b64 %rd10, [%rd2];")
	s.pred(tw(A, "%rd10"), false, "1 of 2 arrivals: the phase of the state is current, incomplete")
	s.raw("mbarrier.arrive.shared::cta.b64 %rd11, [%rd2];")
	s.pred(tw(A, "%rd10"), true, "2nd arrival completed phase 0: a state from phase 0 is the preceding phase")
	s.pred(tw(A, "%rd11"), true, "the state of the completing arrive captures the phase before it (phase 0)")
	s.pred("mbarrier.try_wait.shared::cta.b64 %p1, [%rd2], %rd11;", true, "try_wait with a completed phase's state")
	s.pred(par(A, 0), true, "phase 0 (even) completed")
	s.pred(par(A, 1), false, "phase 1 (odd) is current")
	s.raw("mbarrier.arrive.shared::cta.b64 %rd12, [%rd2], 2;")
	s.pred(tw(A, "%rd12"), true, "arrive with count 2 = 2 arrivals (sm_90: count without .noComplete) completes phase 1")
	s.pred(par(A, 1), true, "phase 1 completed")
	s.pred(par(A, 0), false, "phase 2 (even) is current")
	// phase 2: expect_tx
	s.raw("mbarrier.arrive.expect_tx.shared::cta.b64 %rd13, [%rd2], 64;")
	s.pred(tw(A, "%rd13"), false, "arrive.expect_tx: tx 64, pending 1")
	s.raw("mbarrier.arrive.shared::cta.b64 %rd14, [%rd2];")
	s.pred(tw(A, "%rd14"), false, "pending 0 but tx-count 64: completion needs pending == 0 and tx == 0 (§11.1.2)")
	s.raw("mbarrier.complete_tx.shared::cta.b64 [%rd2], 32;")
	s.pred(par(A, 0), false, "complete_tx 32: tx 32 still outstanding")
	s.raw("mbarrier.complete_tx.shared::cta.b64 [%rd2], 32;")
	s.pred(par(A, 0), true, "complete_tx 32 more: tx 0 completes phase 2")
	s.pred(tw(A, "%rd13"), true, "state from phase 2 now the preceding phase")
	// phase 3: complete_tx before expect_tx (tx-count negative)
	s.raw("mbarrier.complete_tx.shared::cta.b64 [%rd2], 16;")
	s.pred(par(A, 1), false, "phase 3: tx -16 (may be negative), pending 2")
	s.raw("mbarrier.arrive.expect_tx.shared::cta.b64 %rd15, [%rd2], 16;")
	s.pred(tw(A, "%rd15"), false, "expect_tx 16 brings tx to 0; pending 1")
	s.raw("mbarrier.expect_tx.shared::cta.b64 [%rd2], 48;")
	s.raw("mbarrier.arrive.shared::cta.b64 %rd16, [%rd2];")
	s.pred(tw(A, "%rd16"), false, "pending 0, tx 48 after mbarrier.expect_tx 48")
	s.raw("mbarrier.complete_tx.shared::cta.b64 [%rd2], 48;")
	s.pred(tw(A, "%rd16"), true, "complete_tx 48: tx 0, phase 3 completes")
	s.pred(par(A, 1), true, "phase 3 (odd) completed")
	// phase 4: explicit .sem/.scope
	s.raw("mbarrier.arrive.release.cta.shared::cta.b64 %rd17, [%rd2], 2;")
	s.pred("mbarrier.try_wait.parity.acquire.cta.shared::cta.b64 %p1, [%rd2], 0;", true, "phase 4 completed by arrive.release.cta count 2")
	s.pred("mbarrier.test_wait.acquire.cta.shared::cta.b64 %p1, [%rd2], %rd17;", true, "state of phase 4")

	// Barrier B (count 3): arrive_drop lowers the expected count of the following phases.
	B := "[%rd2+8]"
	s.raw("mbarrier.init.shared::cta.b64 [%rd2+8], 3;")
	s.raw("mbarrier.arrive.shared::cta.b64 %rd20, [%rd2+8];")
	s.raw("mbarrier.arrive_drop.shared::cta.b64 %rd21, [%rd2+8];")
	s.pred(tw(B, "%rd20"), false, "init 3, one arrive + one arrive_drop: pending 1 (the drop also arrives)")
	s.raw("mbarrier.arrive.shared::cta.b64 %rd22, [%rd2+8];")
	s.pred(tw(B, "%rd20"), true, "third arrival completes phase 0")
	s.raw("mbarrier.arrive.shared::cta.b64 %rd23, [%rd2+8];")
	s.pred(tw(B, "%rd23"), false, "phase 1 starts with expected = 3-1 = 2: one arrival is not enough")
	s.raw("mbarrier.arrive.shared::cta.b64 %rd24, [%rd2+8];")
	s.pred(tw(B, "%rd23"), true, "phase 1 completes after 2 arrivals (the drop applies to every following phase)")
	s.raw("mbarrier.arrive_drop.shared::cta.b64 _, [%rd2+8];")
	s.pred(par(B, 0), false, "phase 2: arrive_drop (expected 2 -> 1) leaves pending 1")
	s.raw("mbarrier.arrive.shared::cta.b64 _, [%rd2+8];")
	s.pred(par(B, 0), true, "phase 2 completes")
	s.raw("mbarrier.arrive.shared::cta.b64 %rd25, [%rd2+8];")
	s.pred(tw(B, "%rd25"), true, "phase 3 expects 1 arrival")

	// Barrier C (count 5), generic addressing: .noComplete and pending_count.
	s.raw("mbarrier.init.b64 [%rd3+16], 5;")
	s.raw("mbarrier.arrive.noComplete.b64 %rd30, [%rd3+16], 2;")
	s.val("mbarrier.pending_count.b64 %r9, %rd30;", 5, "pending count before the .noComplete arrive of count 2")
	s.raw("mbarrier.arrive.noComplete.b64 %rd31, [%rd3+16], 1;")
	s.val("mbarrier.pending_count.b64 %r9, %rd31;", 3, "5 - 2 = 3 before the second arrive")
	s.raw("mbarrier.arrive_drop.noComplete.b64 %rd32, [%rd3+16], 1;")
	s.val("mbarrier.pending_count.b64 %r9, %rd32;", 2, "3 - 1 = 2 before arrive_drop.noComplete")
	s.pred("mbarrier.test_wait.b64 %p1, [%rd3+16], %rd30;", false, "pending 1 left")
	s.raw("mbarrier.arrive.b64 %rd33, [%rd3+16];")
	s.pred("mbarrier.test_wait.b64 %p1, [%rd3+16], %rd32;", true, "phase 0 completes")
	s.raw("mbarrier.arrive.noComplete.b64 %rd34, [%rd3+16], 3;")
	s.val("mbarrier.pending_count.b64 %r9, %rd34;", 4, "phase 1 starts with expected 5-1 = 4")
	s.raw("mbarrier.arrive.b64 %rd35, [%rd3+16];")
	s.pred("mbarrier.test_wait.parity.b64 %p1, [%rd3+16], 1;", true, "4th arrival of phase 1 completes it")

	// Barrier D: inval, re-init, then ordinary memory again.
	D := "[bars+24]"
	s.raw("mbarrier.init.shared::cta.b64 [bars+24], 1;")
	s.raw("mbarrier.arrive.shared::cta.b64 _, [bars+24];")
	s.pred(par(D, 0), true, "count 1: one arrival completes phase 0")
	s.raw("mbarrier.inval.shared::cta.b64 [bars+24];")
	s.raw("mbarrier.init.shared::cta.b64 [bars+24], 2;")
	s.pred(par(D, 0), false, "re-initialized after inval: phase 0 again, incomplete")
	s.pred(par(D, 1), true, "re-initialized: parity 1 idiom again")
	s.raw("mbarrier.arrive.shared::cta.b64 _, [bars+24], 2;")
	s.pred(par(D, 0), true, "phase 0 of the new object completes")
	s.raw("mbarrier.inval.shared::cta.b64 [bars+24];")
	s.raw("mov.u64 %rd40, 0x1234567;", "st.shared.u64 [bars+24], %rd40;")
	s.val("ld.shared.u32 %r9, [bars+24];", 0x1234567, "after inval the 8 bytes are ordinary memory (§11.1.3)")

	src := s.kernel()
	for seed := uint64(1); seed <= 2; seed++ {
		dev := asyncDev(t, seed, src)
		out := mustAlloc(t, dev, make([]byte, 4*len(s.want)))
		err := asyncRun(dev, 1, []uint64{out.Ptr}, nil)
		if err != nil {
			t.Errorf("seed %d: mbarrier sequence: unexpected error/report: %v", seed, errDetail(err))
		}
		got := mustDownload(t, dev, out)
		for i, w := range s.want {
			if g := le32(got, i); g != w {
				t.Errorf("seed %d: record %d: want %d, got %d: %s", seed, i, w, g, s.why[i])
			}
		}
	}
}

// mbPipelineKernel: warp 0 produces, warps 1..3 consume, through two stages
// of shared buffers guarded by full[s] (32 arrivals: the producer's lanes)
// and empty[s] (96 arrivals: the consumers' lanes). The producer's first wait
// on each empty barrier uses parity 1 on a fresh barrier (§11.1.4 idiom).
func mbPipelineKernel(iters int) string {
	return ptxHeader + fmt.Sprintf(`.visible .entry k(.param .u64 k_out)
{
	.reg .pred %%p<8>;
	.reg .b32 %%r<32>;
	.reg .b64 %%rd<32>;
	.shared .align 8 .b64 full[2];
	.shared .align 8 .b64 empty[2];
	.shared .align 16 .b8 buf[2048];
	ld.param.u64 %%rd1, [k_out];
	mov.u32 %%r1, %%tid.x;
	and.b32 %%r2, %%r1, 31;
	shr.u32 %%r3, %%r1, 5;
	setp.ne.u32 %%p1, %%r1, 0;
	@%%p1 bra INITED;
	mbarrier.init.shared::cta.b64 [full], 32;
	mbarrier.init.shared::cta.b64 [full+8], 32;
	mbarrier.init.shared::cta.b64 [empty], 96;
	mbarrier.init.shared::cta.b64 [empty+8], 96;
INITED:
	bar.sync 0;
	mov.u64 %%rd2, full;
	mov.u64 %%rd3, empty;
	mov.u64 %%rd4, buf;
	mov.u32 %%r4, 0;
	setp.ne.u32 %%p2, %%r3, 0;
	@%%p2 bra CLOOP;
PLOOP:
	and.b32 %%r5, %%r4, 1;
	shr.u32 %%r6, %%r4, 1;
	and.b32 %%r6, %%r6, 1;
	xor.b32 %%r7, %%r6, 1;
	mul.wide.u32 %%rd5, %%r5, 8;
	add.s64 %%rd6, %%rd3, %%rd5;
	add.s64 %%rd7, %%rd2, %%rd5;
PWAIT:
	mbarrier.try_wait.parity.shared::cta.b64 %%p3, [%%rd6], %%r7;
	@!%%p3 bra PWAIT;
	mul.wide.u32 %%rd8, %%r5, 1024;
	add.s64 %%rd9, %%rd4, %%rd8;
	mov.u32 %%r8, 0;
PW:
	shl.b32 %%r9, %%r8, 5;
	add.u32 %%r9, %%r9, %%r2;
	mad.lo.u32 %%r10, %%r4, 1000, %%r9;
	mul.wide.u32 %%rd10, %%r9, 4;
	add.s64 %%rd11, %%rd9, %%rd10;
	st.shared.u32 [%%rd11], %%r10;
	add.u32 %%r8, %%r8, 1;
	setp.lt.u32 %%p4, %%r8, 8;
	@%%p4 bra PW;
	mbarrier.arrive.shared::cta.b64 _, [%%rd7];
	add.u32 %%r4, %%r4, 1;
	setp.lt.u32 %%p5, %%r4, %d;
	@%%p5 bra PLOOP;
	bra DONE;
CLOOP:
	and.b32 %%r5, %%r4, 1;
	shr.u32 %%r6, %%r4, 1;
	and.b32 %%r6, %%r6, 1;
	mul.wide.u32 %%rd5, %%r5, 8;
	add.s64 %%rd6, %%rd3, %%rd5;
	add.s64 %%rd7, %%rd2, %%rd5;
CWAIT:
	mbarrier.try_wait.parity.shared::cta.b64 %%p3, [%%rd7], %%r6;
	@!%%p3 bra CWAIT;
	mul.wide.u32 %%rd8, %%r5, 1024;
	add.s64 %%rd9, %%rd4, %%rd8;
	sub.u32 %%r11, %%r3, 1;
	mad.lo.u32 %%r12, %%r4, 3, %%r11;
	mov.u32 %%r8, 0;
CR:
	shl.b32 %%r9, %%r8, 5;
	add.u32 %%r9, %%r9, %%r2;
	sub.u32 %%r13, 255, %%r9;
	mul.wide.u32 %%rd10, %%r13, 4;
	add.s64 %%rd11, %%rd9, %%rd10;
	ld.shared.u32 %%r10, [%%rd11];
	mad.lo.u32 %%r14, %%r12, 256, %%r13;
	mul.wide.u32 %%rd12, %%r14, 4;
	add.s64 %%rd13, %%rd1, %%rd12;
	st.global.u32 [%%rd13], %%r10;
	add.u32 %%r8, %%r8, 1;
	setp.lt.u32 %%p4, %%r8, 8;
	@%%p4 bra CR;
	mbarrier.arrive.shared::cta.b64 _, [%%rd6];
	add.u32 %%r4, %%r4, 1;
	setp.lt.u32 %%p5, %%r4, %d;
	@%%p5 bra CLOOP;
DONE:
	ret;
}
`, iters, iters)
}

// TestISAMbarrierPipeline: a producer warp and three consumer warps run six
// iterations over two stages (three phases per barrier), for several seeds.
// §11.1.3: when an .acquire wait returns True, the writes the participants
// made before their .release arrives are visible.
func TestISAMbarrierPipeline(t *testing.T) {
	const iters = 6
	src := mbPipelineKernel(iters)
	for seed := uint64(1); seed <= 4; seed++ {
		dev := asyncDev(t, seed, src)
		out := mustAlloc(t, dev, make([]byte, iters*3*256*4))
		if err := asyncRun(dev, 128, []uint64{out.Ptr}, nil); err != nil {
			t.Errorf("seed %d: producer/consumer over full/empty mbarriers: unexpected report: %v", seed, err)
			continue
		}
		got := mustDownload(t, dev, out)
		bad := 0
		for it := 0; it < iters; it++ {
			for cw := 0; cw < 3; cw++ {
				for i := 0; i < 256; i++ {
					if g, w := le32(got, (it*3+cw)*256+i), uint32(it*1000+i); g != w && bad < 5 {
						bad++
						t.Errorf("seed %d iteration %d consumer warp %d: buf[%d] = %d, want %d [§11.1.3 acquire wait makes the producer's writes visible]", seed, it, cw+1, i, g, w)
					}
				}
			}
		}
	}
}

// TestISAMbarrierArriveDropWarp: four warps arrive each phase on one barrier
// (init 128); warp 3 leaves after phase 0 with arrive_drop and exits. The
// others run three more phases, which must complete with 96 arrivals (§11.1.3
// arrive_drop: the decrement applies to every following phase). Each phase a
// thread publishes a value and reads another warp's after the state wait.
func TestISAMbarrierArriveDropWarp(t *testing.T) {
	const phases = 4
	src := ptxHeader + fmt.Sprintf(`.visible .entry k(.param .u64 k_out)
{
	.reg .pred %%p<8>;
	.reg .b32 %%r<32>;
	.reg .b64 %%rd<32>;
	.shared .align 8 .b64 bar;
	.shared .align 4 .b32 vals[256];
	ld.param.u64 %%rd1, [k_out];
	mov.u32 %%r1, %%tid.x;
	shr.u32 %%r3, %%r1, 5;
	setp.ne.u32 %%p1, %%r1, 0;
	@%%p1 bra INITED;
	mbarrier.init.shared::cta.b64 [bar], 128;
INITED:
	bar.sync 0;
	mov.u64 %%rd2, vals;
	mov.u32 %%r4, 0;
LOOP:
	and.b32 %%r5, %%r4, 1;
	mad.lo.u32 %%r6, %%r5, 128, %%r1;
	mul.wide.u32 %%rd3, %%r6, 4;
	add.s64 %%rd4, %%rd2, %%rd3;
	add.u32 %%r7, %%r4, 1;
	mad.lo.u32 %%r8, %%r7, 1000, %%r1;
	st.shared.u32 [%%rd4], %%r8;
	setp.eq.u32 %%p2, %%r3, 3;
	@!%%p2 bra STAY;
	mbarrier.arrive_drop.shared::cta.b64 _, [bar];
	exit;
STAY:
	mbarrier.arrive.shared::cta.b64 %%rd5, [bar];
WAIT:
	mbarrier.test_wait.shared::cta.b64 %%p3, [bar], %%rd5;
	@!%%p3 bra WAIT;
	// partner: (tid+32) mod 128 in phase 0, mod 96 afterwards
	add.u32 %%r9, %%r1, 32;
	setp.eq.u32 %%p4, %%r4, 0;
	selp.u32 %%r10, 128, 96, %%p4;
	rem.u32 %%r9, %%r9, %%r10;
	mad.lo.u32 %%r11, %%r5, 128, %%r9;
	mul.wide.u32 %%rd6, %%r11, 4;
	add.s64 %%rd7, %%rd2, %%rd6;
	ld.shared.u32 %%r12, [%%rd7];
	mad.lo.u32 %%r13, %%r4, 128, %%r1;
	mul.wide.u32 %%rd8, %%r13, 4;
	add.s64 %%rd9, %%rd1, %%rd8;
	st.global.u32 [%%rd9], %%r12;
	add.u32 %%r4, %%r4, 1;
	setp.lt.u32 %%p5, %%r4, %d;
	@%%p5 bra LOOP;
	ret;
}
`, phases)
	for seed := uint64(1); seed <= 3; seed++ {
		dev := asyncDev(t, seed, src)
		out := mustAlloc(t, dev, make([]byte, phases*128*4))
		if err := asyncRun(dev, 128, []uint64{out.Ptr}, nil); err != nil {
			t.Errorf("seed %d: arrive_drop by an exiting warp: unexpected error/report (phases after the drop must complete with 96 arrivals): %v", seed, errDetail(err))
			continue
		}
		got := mustDownload(t, dev, out)
		for p := 0; p < phases; p++ {
			for tid := 0; tid < 96; tid++ {
				m := 96
				if p == 0 {
					m = 128
				}
				w := uint32((p+1)*1000 + (tid+32)%m)
				if g := le32(got, p*128+tid); g != w {
					t.Errorf("seed %d phase %d thread %d: read %d, want %d", seed, p, tid, g, w)
				}
			}
		}
	}
}

// mbUB is a single-thread kernel around a body using the barrier "bar"
// (8-aligned, 16 bytes reserved) and out pointer %rd1.
func mbUB(body string) string {
	return ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<16>;
	.reg .b64 %rd<16>;
	.shared .align 8 .b64 bar[2];
	ld.param.u64 %rd1, [k_out];
` + body + `
	selp.u32 %r9, 1, 0, %p1;
	st.global.u32 [%rd1], %r9;
	ret;
}
`
}

// TestISAMbarrierSanitizer: the undefined cases of §11.1.6, each next to a
// well-defined control.
func TestISAMbarrierSanitizer(t *testing.T) {
	out := make([]byte, 4)
	cases := []struct {
		what  string
		body  string
		clean bool
		kinds []emu.Kind
	}{
		{"control: init then test_wait.parity", `
	mbarrier.init.shared::cta.b64 [bar], 1;
	mbarrier.test_wait.parity.shared::cta.b64 %p1, [bar], 0;`, true, nil},
		{"test_wait on a never-initialized mbarrier [§11.1.6: operation other than init on memory without a valid mbarrier]", `
	mbarrier.test_wait.parity.shared::cta.b64 %p1, [bar], 0;`, false, []emu.Kind{emu.KindAsync, emu.KindUninitialized}},
		{"arrive on a never-initialized mbarrier [§11.1.6]", `
	mbarrier.arrive.shared::cta.b64 %rd2, [bar];
	setp.eq.u32 %p1, 1, 1;`, false, []emu.Kind{emu.KindAsync, emu.KindUninitialized}},
		{"try_wait after inval [§11.1.6: after inval the memory holds no valid mbarrier]", `
	mbarrier.init.shared::cta.b64 [bar], 1;
	mbarrier.inval.shared::cta.b64 [bar];
	mbarrier.try_wait.parity.shared::cta.b64 %p1, [bar], 0;`, false, []emu.Kind{emu.KindAsync}},
		{"control: init, inval, init", `
	mbarrier.init.shared::cta.b64 [bar], 1;
	mbarrier.inval.shared::cta.b64 [bar];
	mbarrier.init.shared::cta.b64 [bar], 2;
	mbarrier.test_wait.parity.shared::cta.b64 %p1, [bar], 0;`, true, nil},
		{"init of a live mbarrier [§11.1.3 init: undefined on a valid mbarrier, inval first]", `
	mbarrier.init.shared::cta.b64 [bar], 1;
	mbarrier.init.shared::cta.b64 [bar], 2;
	setp.eq.u32 %p1, 1, 1;`, false, []emu.Kind{emu.KindAsync}},
		{"control: arrive with count equal to pending", `
	mbarrier.init.shared::cta.b64 [bar], 2;
	mbarrier.arrive.shared::cta.b64 %rd2, [bar], 2;
	mbarrier.test_wait.shared::cta.b64 %p1, [bar], %rd2;`, true, nil},
		{"arrive with count 3 when 2 are pending [§11.1.6: more arrivals than pending]", `
	mbarrier.init.shared::cta.b64 [bar], 2;
	mbarrier.arrive.shared::cta.b64 %rd2, [bar], 3;
	setp.eq.u32 %p1, 1, 1;`, false, []emu.Kind{emu.KindAsync}},
		{"st.shared to the bytes of a valid mbarrier [§11.1.6: non-mbarrier access]", `
	mbarrier.init.shared::cta.b64 [bar], 1;
	mov.u32 %r2, 0;
	st.shared.u32 [bar+4], %r2;
	setp.eq.u32 %p1, 1, 1;`, false, []emu.Kind{emu.KindAsync}},
		{"ld.shared of a valid mbarrier [§11.1.6: non-mbarrier access]", `
	mbarrier.init.shared::cta.b64 [bar], 1;
	ld.shared.u64 %rd2, [bar];
	setp.ne.u64 %p1, %rd2, 0;`, false, []emu.Kind{emu.KindAsync}},
		{"control: st.shared next to the mbarrier (other 8 bytes)", `
	mbarrier.init.shared::cta.b64 [bar], 1;
	mov.u32 %r2, 0;
	st.shared.u32 [bar+8], %r2;
	setp.eq.u32 %p1, 1, 1;`, true, nil},
		{"init with count 0 [§11.1.3: count in [1, 2^20-1]]", `
	mbarrier.init.shared::cta.b64 [bar], 0;
	setp.eq.u32 %p1, 1, 1;`, false, []emu.Kind{emu.KindAsync}},
		{"mbarrier at a 4-byte-aligned address [§11.1.1: 8-byte aligned]", `
	mbarrier.init.shared::cta.b64 [bar+4], 1;
	setp.eq.u32 %p1, 1, 1;`, false, []emu.Kind{emu.KindMisaligned, emu.KindAsync}},
		{".noComplete arrive that completes the phase [§11.1.3: undefined]", `
	mbarrier.init.shared::cta.b64 [bar], 2;
	mbarrier.arrive.noComplete.shared::cta.b64 %rd2, [bar], 2;
	setp.eq.u32 %p1, 1, 1;`, false, []emu.Kind{emu.KindAsync}},
		{"pending_count of a state from a plain arrive [§11.1.3: must come from .noComplete]", `
	mbarrier.init.shared::cta.b64 [bar], 2;
	mbarrier.arrive.shared::cta.b64 %rd2, [bar];
	mbarrier.pending_count.b64 %r2, %rd2;
	setp.eq.u32 %p1, %r2, 0;`, false, []emu.Kind{emu.KindAsync}},
		{"phaseParity 2 [§11.1.6: parity not 0 or 1]", `
	mbarrier.init.shared::cta.b64 [bar], 1;
	mov.u32 %r2, 2;
	mbarrier.test_wait.parity.shared::cta.b64 %p1, [bar], %r2;`, false, []emu.Kind{emu.KindAsync}},
		{"test_wait with a state two phases old [§11.1.3: valid only for the current or the preceding phase]", `
	mbarrier.init.shared::cta.b64 [bar], 1;
	mbarrier.arrive.shared::cta.b64 %rd2, [bar];
	mbarrier.test_wait.shared::cta.b64 %p1, [bar], %rd2;
	mbarrier.arrive.shared::cta.b64 %rd3, [bar];
	mbarrier.test_wait.shared::cta.b64 %p1, [bar], %rd3;
	mbarrier.test_wait.shared::cta.b64 %p1, [bar], %rd2;`, false, []emu.Kind{emu.KindAsync}},
		{"arrive_drop taking the expected count to 0 [§11.1.6: expected below 1]", `
	mbarrier.init.shared::cta.b64 [bar], 1;
	mbarrier.arrive_drop.shared::cta.b64 %rd2, [bar];
	setp.eq.u32 %p1, 1, 1;`, false, []emu.Kind{emu.KindAsync}},
		{"try_wait spin on a phase that never completes [§11.1.5: deadlock]", `
	mbarrier.init.shared::cta.b64 [bar], 2;
	mbarrier.arrive.shared::cta.b64 %rd2, [bar];
SPIN:
	mbarrier.try_wait.parity.shared::cta.b64 %p1, [bar], 0;
	@!%p1 bra SPIN;`, false, []emu.Kind{emu.KindDeadlock}},
		{"test_wait spin on a phase that never completes [§11.1.5: a failed test_wait is a yield point; all threads spinning = deadlock]", `
	mbarrier.init.shared::cta.b64 [bar], 2;
	mbarrier.arrive.shared::cta.b64 %rd2, [bar];
SPIN:
	mbarrier.test_wait.shared::cta.b64 %p1, [bar], %rd2;
	@!%p1 bra SPIN;`, false, []emu.Kind{emu.KindDeadlock}},
		{"spin whose tx-count never reaches 0 [§11.1.2: completion needs tx == 0]", `
	mbarrier.init.shared::cta.b64 [bar], 1;
	mbarrier.arrive.expect_tx.shared::cta.b64 %rd2, [bar], 16;
SPIN:
	mbarrier.try_wait.parity.shared::cta.b64 %p1, [bar], 0;
	@!%p1 bra SPIN;`, false, []emu.Kind{emu.KindDeadlock}},
	}
	for _, c := range cases {
		_, _, err := launch(t, 1, mbUB(c.body), 1, out)
		if c.clean {
			expectNone(t, c.what, err)
		} else {
			expectKinds(t, c.what, err, c.kinds...)
		}
	}
	// Multi-warp deadlock: warp 1 waits on a barrier that warp 0 should
	// arrive on, but warp 0 exits without arriving.
	src := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	.shared .align 8 .b64 bar;
	ld.param.u64 %rd1, [k_out];
	mov.u32 %r1, %tid.x;
	setp.ne.u32 %p1, %r1, 0;
	@%p1 bra INITED;
	mbarrier.init.shared::cta.b64 [bar], 32;
INITED:
	bar.sync 0;
	setp.lt.u32 %p2, %r1, 32;
	@%p2 exit;
SPIN:
	mbarrier.try_wait.parity.shared::cta.b64 %p3, [bar], 0;
	@!%p3 bra SPIN;
	st.global.u32 [%rd1], %r1;
	ret;
}
`
	for seed := uint64(1); seed <= 2; seed++ {
		_, _, err := launch(t, seed, src, 64, out)
		expectKinds(t, "warp 1 waits on an mbarrier whose 32 arrivals (warp 0) exited without arriving [§11.1.5 deadlock]", err, emu.KindDeadlock)
	}
}
