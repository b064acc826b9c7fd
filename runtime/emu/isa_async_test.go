package emu_test

// Hopper asynchronous machinery, written from docs/ptx-isa-notes.md §11 (the
// PTX ISA restated): mbarrier (§11.1), cp.async (§11.5), cp.async.bulk
// (§11.6), cp.async.bulk.tensor with tensor maps (§11.2, §11.7), proxy fences
// (§11.8), and the emulator model of §11.0 (lazy completion: an access to a
// copy's destination before the wait that covers it is reported). Every
// expected value is computed here from the notes' rules, never from the
// emulator's code.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

// ---------------------------------------------------------------------------
// Launch helpers.

// asyncDev loads src on a fresh sanitizing device with the given seed.
func asyncDev(t *testing.T, seed uint64, src string) *emu.Device {
	t.Helper()
	dev := isaDevice(seed)
	if _, err := dev.LoadPTX(src); err != nil {
		t.Fatalf("LoadPTX: %v\n%s", err, numbered(src))
	}
	return dev
}

// asyncRun launches kernel "k" as one CTA of block threads.
func asyncRun(dev *emu.Device, block uint32, args []uint64, raw [][]byte) error {
	_, err := dev.Run("k", emu.LaunchConfig{Grid: [3]uint32{1, 1, 1}, Block: [3]uint32{block, 1, 1}, Args: args, RawArgs: raw})
	return err
}

// expectError accepts a LoadPTX refusal or any launch error (sanitizer
// report or trap): for undefined behaviour the notes leave the kind open.
func expectError(t *testing.T, what string, seed uint64, src string, block uint32, bufs ...[]byte) {
	t.Helper()
	dev := isaDevice(seed)
	if _, err := dev.LoadPTX(src); err != nil {
		t.Logf("%s: refused at load, as allowed: %v", what, err)
		return
	}
	var ptrs []uint64
	for _, b := range bufs {
		ptrs = append(ptrs, mustAlloc(t, dev, b).Ptr)
	}
	err := asyncRun(dev, block, ptrs, nil)
	if err == nil {
		t.Errorf("%s: expected a finding or an error, got none", what)
		return
	}
	t.Logf("%s: reported as expected: %v", what, err)
}

// errDetail spells out a sanitizer report's findings.
func errDetail(err error) string {
	if rep := asReport(err); rep != nil {
		return kinds(rep)
	}
	return fmt.Sprint(err)
}

// expectNone is expectClean with the findings spelled out.
func expectNone(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		if rep := asReport(err); rep != nil {
			t.Errorf("%s: expected no finding, got: %s", what, kinds(rep))
		} else {
			t.Errorf("%s: expected no error, got: %v", what, err)
		}
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(1 + rng.Intn(255)) // never 0: zero fill stays visible
	}
	return b
}

func fillBytes(n int, v byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = v
	}
	return b
}

// firstDiff returns a description of the first differing byte, or "".
func firstDiff(got, want []byte) string {
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			g := -1
			if i < len(got) {
				g = int(got[i])
			}
			return fmt.Sprintf("byte %d: want %#02x, got %#02x", i, want[i], g)
		}
	}
	return ""
}

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

// ---------------------------------------------------------------------------
// 3. cp.async.bulk (§11.6)

// bulkG2SKernel: thread 0 arms the barrier and issues three bulk copies
// (16 B to sm+0, 48 B to sm+16, 256 B to sm+128, from src+0, src+64,
// src+256); all 64 threads wait and copy sm[0:64] and sm[128:384] out.
func bulkG2SKernel(arm string) string {
	return ptxHeader + `.visible .entry k(.param .u64 k_src, .param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<16>;
	.reg .b64 %rd<16>;
	.shared .align 8 .b64 bar;
	.shared .align 128 .b8 sm[512];
	ld.param.u64 %rd1, [k_src];
	ld.param.u64 %rd2, [k_out];
	mov.u32 %r1, %tid.x;
	mov.u32 %r2, sm;
	mov.u32 %r3, bar;
	setp.ne.u32 %p1, %r1, 0;
	@%p1 bra INITED;
	mbarrier.init.shared::cta.b64 [%r3], 1;
	fence.proxy.async.shared::cta;
INITED:
	bar.sync 0;
	@%p1 bra WAIT;
	` + arm + `
	mov.u32 %r4, 48;
	cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r2], [%rd1], 16, [%r3];
	cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r2+16], [%rd1+64], %r4, [%r3];
	cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r2+128], [%rd1+256], 256, [%r3];
WAIT:
	mbarrier.try_wait.parity.shared::cta.b64 %p2, [%r3], 0;
	@!%p2 bra WAIT;
	mul.wide.u32 %rd3, %r1, 4;
	cvt.u64.u32 %rd4, %r2;
	setp.ge.u32 %p3, %r1, 16;
	@%p3 bra SECOND;
	add.s64 %rd5, %rd2, %rd3;
	mad.lo.u32 %r5, %r1, 4, %r2;
	ld.shared.u32 %r6, [%r5];
	st.global.u32 [%rd5], %r6;
SECOND:
	mad.lo.u32 %r5, %r1, 4, %r2;
	ld.shared.u32 %r6, [%r5+128];
	add.s64 %rd5, %rd2, %rd3;
	st.global.u32 [%rd5+64], %r6;
	ret;
}
`
}

// TestISABulkGlobalToShared: cp.async.bulk global -> shared completes with a
// complete-tx of size bytes on the mbarrier (§11.6.2); the phase completes
// when the expected bytes (arrive.expect_tx, or expect_tx + arrive) have all
// arrived, and the data is then visible to every waiting thread.
func TestISABulkGlobalToShared(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	src := randBytes(rng, 512)
	want := make([]byte, 320)
	copy(want[0:16], src[0:16])
	copy(want[16:64], src[64:112])
	copy(want[64:320], src[256:512])
	arms := map[string]string{
		"arrive.expect_tx 320":                "mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r3], 320;",
		"expect_tx 16 + arrive.expect_tx 304": "mbarrier.expect_tx.shared::cta.b64 [%r3], 16;\n\tmbarrier.arrive.expect_tx.shared::cta.b64 _, [%r3], 304;",
		"expect_tx 320 + arrive":              "mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%r3], 320;\n\tmbarrier.arrive.shared::cta.b64 _, [%r3];",
	}
	for name, arm := range arms {
		for seed := uint64(1); seed <= 3; seed++ {
			dev := asyncDev(t, seed, bulkG2SKernel(arm))
			sb := mustAlloc(t, dev, src)
			ob := mustAlloc(t, dev, make([]byte, 320))
			if err := asyncRun(dev, 64, []uint64{sb.Ptr, ob.Ptr}, nil); err != nil {
				t.Errorf("seed %d (%s): unexpected error/report: %v", seed, name, errDetail(err))
				continue
			}
			if d := firstDiff(mustDownload(t, dev, ob), want); d != "" {
				t.Errorf("seed %d (%s): shared data after the wait: %s", seed, name, d)
			}
		}
	}
	// 16 bytes too many expected: tx never reaches 0 (bytes are counted).
	dev := asyncDev(t, 1, bulkG2SKernel("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r3], 336;"))
	sb := mustAlloc(t, dev, src)
	ob := mustAlloc(t, dev, make([]byte, 320))
	err := asyncRun(dev, 64, []uint64{sb.Ptr, ob.Ptr}, nil)
	expectKinds(t, "expect_tx 336 for 320 copied bytes: the phase never completes [§11.6.2 complete-tx with size bytes]", err, emu.KindDeadlock)
}

// TestISABulkMultiPhase: one barrier and one buffer reused for three phases
// of 256-byte bulk loads (wait parity j&1), readers fenced and synchronized
// before each reuse.
func TestISABulkMultiPhase(t *testing.T) {
	src := ptxHeader + `.visible .entry k(.param .u64 k_src, .param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<16>;
	.reg .b64 %rd<16>;
	.shared .align 8 .b64 bar;
	.shared .align 128 .b8 sm[256];
	ld.param.u64 %rd1, [k_src];
	ld.param.u64 %rd2, [k_out];
	mov.u32 %r1, %tid.x;
	mov.u64 %rd3, sm;
	mov.u64 %rd4, bar;
	setp.ne.u32 %p1, %r1, 0;
	@%p1 bra INITED;
	mbarrier.init.shared::cta.b64 [%rd4], 1;
	fence.proxy.async.shared::cta;
INITED:
	bar.sync 0;
	mov.u32 %r2, 0;
LOOP:
	@%p1 bra WAIT;
	mul.wide.u32 %rd5, %r2, 256;
	add.s64 %rd6, %rd1, %rd5;
	mbarrier.arrive.expect_tx.shared::cta.b64 _, [%rd4], 256;
	cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%rd3], [%rd6], 256, [%rd4];
WAIT:
	and.b32 %r3, %r2, 1;
	mbarrier.try_wait.parity.shared::cta.b64 %p2, [%rd4], %r3;
	@!%p2 bra WAIT;
	mul.wide.u32 %rd7, %r1, 4;
	add.s64 %rd8, %rd3, %rd7;
	ld.shared.u32 %r4, [%rd8];
	mad.lo.u32 %r5, %r2, 64, %r1;
	mul.wide.u32 %rd9, %r5, 4;
	add.s64 %rd10, %rd2, %rd9;
	st.global.u32 [%rd10], %r4;
	fence.proxy.async.shared::cta;
	bar.sync 0;
	add.u32 %r2, %r2, 1;
	setp.lt.u32 %p3, %r2, 3;
	@%p3 bra LOOP;
	ret;
}
`
	rng := rand.New(rand.NewSource(22))
	data := randBytes(rng, 768)
	for seed := uint64(1); seed <= 3; seed++ {
		dev := asyncDev(t, seed, src)
		sb := mustAlloc(t, dev, data)
		ob := mustAlloc(t, dev, make([]byte, 768))
		if err := asyncRun(dev, 64, []uint64{sb.Ptr, ob.Ptr}, nil); err != nil {
			t.Errorf("seed %d: three phases of bulk loads: unexpected error/report: %v", seed, errDetail(err))
			continue
		}
		if d := firstDiff(mustDownload(t, dev, ob), data); d != "" {
			t.Errorf("seed %d: %s", seed, d)
		}
	}
}

// bulkS2GKernel: 32 threads fill sm[0:384] from k_in, fence.proxy.async,
// bar.sync; thread 0 runs tail (bulk stores to k_out).
func bulkS2GKernel(tail string) string {
	return ptxHeader + `.visible .entry k(.param .u64 k_in, .param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<16>;
	.reg .b64 %rd<16>;
	.shared .align 128 .b8 sm[384];
	ld.param.u64 %rd1, [k_in];
	ld.param.u64 %rd2, [k_out];
	mov.u32 %r1, %tid.x;
	mov.u64 %rd3, sm;
	mov.u32 %r2, %r1;
FILL:
	mul.wide.u32 %rd4, %r2, 4;
	add.s64 %rd5, %rd1, %rd4;
	ld.global.u32 %r3, [%rd5];
	add.s64 %rd6, %rd3, %rd4;
	st.shared.u32 [%rd6], %r3;
	add.u32 %r2, %r2, 32;
	setp.lt.u32 %p1, %r2, 96;
	@%p1 bra FILL;
	fence.proxy.async.shared::cta;
	bar.sync 0;
	setp.ne.u32 %p2, %r1, 0;
	@%p2 bra DONE;
	mov.u32 %r5, 0x5A5A5A5A;
` + tail + `
DONE:
	ret;
}
`
}

// overwrite returns PTX that makes thread 0 store 0x5A5A5A5A over sm[from:to).
func overwrite(from, to int) string {
	var b strings.Builder
	for o := from; o < to; o += 4 {
		fmt.Fprintf(&b, "\tst.shared.u32 [%%rd3+%d], %%r5;\n", o)
	}
	return b.String()
}

// TestISABulkSharedToGlobal: cp.async.bulk shared -> global with bulk
// async-groups (§11.6.3): after wait_group 0 the writes are done; after
// wait_group.read N only the source reads of the older groups are done, so
// their shared source may then be overwritten without changing the result.
func TestISABulkSharedToGlobal(t *testing.T) {
	rng := rand.New(rand.NewSource(23))
	in := randBytes(rng, 384)
	want := fillBytes(1024, 0xEE)
	copy(want[0:256], in[0:256])
	copy(want[512:640], in[256:384])
	cases := map[string]string{
		"two groups, wait_group 0": `
	cp.async.bulk.global.shared::cta.bulk_group [%rd2], [%rd3], 256;
	cp.async.bulk.commit_group;
	mov.u32 %r6, 128;
	cp.async.bulk.global.shared::cta.bulk_group [%rd2+512], [%rd3+256], %r6;
	cp.async.bulk.commit_group;
	cp.async.bulk.wait_group 0;`,
		"wait_group.read 1, reuse the first source; wait_group.read 0, reuse the second": `
	cp.async.bulk.global.shared::cta.bulk_group [%rd2], [%rd3], 256;
	cp.async.bulk.commit_group;
	cp.async.bulk.global.shared::cta.bulk_group [%rd2+512], [%rd3+256], 128;
	cp.async.bulk.commit_group;
	cp.async.bulk.wait_group.read 1;
` + overwrite(0, 256) + `
	cp.async.bulk.wait_group.read 0;
` + overwrite(256, 384) + `
	cp.async.bulk.wait_group 0;`,
		"one group of two copies, wait_group.read 0 then reuse both sources": `
	cp.async.bulk.global.shared::cta.bulk_group [%rd2], [%rd3], 256;
	cp.async.bulk.global.shared::cta.bulk_group [%rd2+512], [%rd3+256], 128;
	cp.async.bulk.commit_group;
	cp.async.bulk.wait_group.read 0;
` + overwrite(0, 384) + `
	cp.async.bulk.wait_group 0;`,
	}
	for name, tail := range cases {
		for seed := uint64(1); seed <= 2; seed++ {
			dev := asyncDev(t, seed, bulkS2GKernel(tail))
			ib := mustAlloc(t, dev, in)
			ob := mustAlloc(t, dev, fillBytes(1024, 0xEE))
			if err := asyncRun(dev, 32, []uint64{ib.Ptr, ob.Ptr}, nil); err != nil {
				t.Errorf("seed %d (%s): unexpected error/report: %v", seed, name, errDetail(err))
				continue
			}
			if d := firstDiff(mustDownload(t, dev, ob), want); d != "" {
				t.Errorf("seed %d (%s): global after the bulk stores: %s [§11.6.3: the copy reads its source before .read returns]", seed, name, d)
			}
		}
	}
}

// TestISABulkSanitizer: size and alignment rules (§11.6.2/§11.6.5) and
// accesses before completion (§11.0).
func TestISABulkSanitizer(t *testing.T) {
	rng := rand.New(rand.NewSource(24))
	in := randBytes(rng, 384)
	run := func(what, tail string, kinds ...emu.Kind) {
		t.Helper()
		for seed := uint64(1); seed <= 2; seed++ {
			dev := asyncDev(t, seed, bulkS2GKernel(tail))
			ib := mustAlloc(t, dev, in)
			ob := mustAlloc(t, dev, fillBytes(1024, 0xEE))
			err := asyncRun(dev, 32, []uint64{ib.Ptr, ob.Ptr}, nil)
			if kinds == nil {
				expectNone(t, what, err)
			} else {
				expectKinds(t, fmt.Sprintf("seed %d: %s", seed, what), err, kinds...)
			}
		}
	}
	run("control: a 16-byte bulk store at 16-aligned addresses", `
	mov.u32 %r6, 16;
	cp.async.bulk.global.shared::cta.bulk_group [%rd2+16], [%rd3+32], %r6;
	cp.async.bulk.commit_group;
	cp.async.bulk.wait_group 0;`)
	run("control: a 48-byte bulk store at 16-aligned addresses (§11.6.2 needs only 16-byte alignment)", `
	cp.async.bulk.global.shared::cta.bulk_group [%rd2+16], [%rd3+16], 48;
	cp.async.bulk.commit_group;
	cp.async.bulk.wait_group 0;`)
	run("control: a 256-byte bulk store to a 16- (not 256-) aligned global address", `
	cp.async.bulk.global.shared::cta.bulk_group [%rd2+272], [%rd3+16], 256;
	cp.async.bulk.commit_group;
	cp.async.bulk.wait_group 0;`)
	run("bulk size 40, not a multiple of 16 [§11.6.2]", `
	mov.u32 %r6, 40;
	cp.async.bulk.global.shared::cta.bulk_group [%rd2], [%rd3], %r6;
	cp.async.bulk.commit_group;
	cp.async.bulk.wait_group 0;`, emu.KindMisaligned, emu.KindAsync)
	run("bulk store to an 8-aligned global address [§11.6.2: 16-byte aligned]", `
	cp.async.bulk.global.shared::cta.bulk_group [%rd2+8], [%rd3], 32;
	cp.async.bulk.commit_group;
	cp.async.bulk.wait_group 0;`, emu.KindMisaligned, emu.KindAsync)
	run("bulk store from an 8-aligned shared address [§11.6.2]", `
	cp.async.bulk.global.shared::cta.bulk_group [%rd2], [%rd3+8], 32;
	cp.async.bulk.commit_group;
	cp.async.bulk.wait_group 0;`, emu.KindMisaligned, emu.KindAsync)
	run("bulk store overrunning the 1024-byte global buffer", `
	cp.async.bulk.global.shared::cta.bulk_group [%rd2+768], [%rd3], 384;
	cp.async.bulk.commit_group;
	cp.async.bulk.wait_group 0;`, emu.KindOutOfBounds, emu.KindAsync)
	run("overwriting the shared source before any wait [§11.6.5]", `
	cp.async.bulk.global.shared::cta.bulk_group [%rd2], [%rd3], 256;
	cp.async.bulk.commit_group;
`+overwrite(0, 16)+`
	cp.async.bulk.wait_group 0;`, emu.KindAsync)
	run("overwriting the source of the newest group after wait_group.read 1 [§11.6.3]", `
	cp.async.bulk.global.shared::cta.bulk_group [%rd2], [%rd3], 256;
	cp.async.bulk.commit_group;
	cp.async.bulk.global.shared::cta.bulk_group [%rd2+512], [%rd3+256], 128;
	cp.async.bulk.commit_group;
	cp.async.bulk.wait_group.read 1;
`+overwrite(256, 272)+`
	cp.async.bulk.wait_group 0;`, emu.KindAsync)

	// global -> shared: size not a multiple of 16, and reading the
	// destination before the wait.
	for seed := uint64(1); seed <= 2; seed++ {
		src := randBytes(rng, 512)
		dev := asyncDev(t, seed, strings.Replace(bulkG2SKernel("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r3], 320;"),
			"WAIT:\n", "\tld.shared.u32 %r7, [%r2+132];\n\tst.global.u32 [%rd2], %r7;\nWAIT:\n", 1))
		sb := mustAlloc(t, dev, src)
		ob := mustAlloc(t, dev, make([]byte, 320))
		err := asyncRun(dev, 64, []uint64{sb.Ptr, ob.Ptr}, nil)
		expectKinds(t, fmt.Sprintf("seed %d: reading a bulk copy's shared destination before the mbarrier wait [§11.0]", seed), err, emu.KindAsync)
		dev = asyncDev(t, seed, strings.Replace(bulkG2SKernel("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r3], 312;"),
			"[%r2+16], [%rd1+64], %r4", "[%r2+16], [%rd1+64], 40", 1))
		sb = mustAlloc(t, dev, src)
		ob = mustAlloc(t, dev, make([]byte, 320))
		err = asyncRun(dev, 64, []uint64{sb.Ptr, ob.Ptr}, nil)
		dev = asyncDev(t, seed, strings.Replace(bulkG2SKernel("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r3], 320;"),
			"[%rd1+256], 256", "[%rd1+272], 256", 1))
		sb = mustAlloc(t, dev, randBytes(rng, 1024))
		ob = mustAlloc(t, dev, make([]byte, 320))
		expectNone(t, fmt.Sprintf("seed %d: control: a 256-byte bulk load from a 16- (not 256-) aligned global address [§11.6.2]", seed), asyncRun(dev, 64, []uint64{sb.Ptr, ob.Ptr}, nil))
		expectKinds(t, fmt.Sprintf("seed %d: bulk global->shared of 40 bytes [§11.6.2 size multiple of 16]", seed), err, emu.KindMisaligned, emu.KindAsync)
	}
}

// ---------------------------------------------------------------------------
// 4. cp.async.bulk.tensor and tensor maps (§11.2, §11.7)

func tmaElemBytes(dt int) int {
	switch dt {
	case emu.TensorUINT8:
		return 1
	case emu.TensorUINT16, emu.TensorFLOAT16, emu.TensorBFLOAT16:
		return 2
	case emu.TensorUINT64, emu.TensorINT64, emu.TensorFLOAT64:
		return 8
	}
	return 4
}

type tmaCase struct {
	name    string
	dt      int
	dims    []uint64
	strides []uint64 // bytes of dims 1..rank-1; nil: packed rows padded to 16
	box     []uint32
	estr    []uint32 // nil: all 1
	swz     int
	oob     int
	off     int // destination offset from a 1024-aligned shared buffer
	coords  [][]int32
}

func (c *tmaCase) rank() int { return len(c.dims) }
func (c *tmaCase) es() int   { return tmaElemBytes(c.dt) }

// S returns the byte stride of every dimension (S[0] = element size).
func (c *tmaCase) S() []uint64 {
	s := []uint64{uint64(c.es())}
	if c.strides != nil {
		return append(s, c.strides...)
	}
	for i := 1; i < c.rank(); i++ {
		if i == 1 {
			s = append(s, (c.dims[0]*uint64(c.es())+15)&^15)
		} else {
			s = append(s, s[i-1]*c.dims[i-1])
		}
	}
	return s
}

func (c *tmaCase) E(i int) int {
	if i == 0 || c.estr == nil {
		return 1 // §11.2.3: elementStrides[0] is ignored without interleave
	}
	return int(c.estr[i])
}

// n is the number of elements taken along each dimension (§11.2.3).
func (c *tmaCase) n() []int {
	var n []int
	for i := 0; i < c.rank(); i++ {
		n = append(n, (int(c.box[i])+c.E(i)-1)/c.E(i))
	}
	return n
}

func (c *tmaCase) boxBytes() int {
	b := c.es()
	for _, v := range c.n() {
		b *= v
	}
	return b
}

func (c *tmaCase) globalBytes() int {
	var end uint64
	S := c.S()
	for i := 0; i < c.rank(); i++ {
		end += (c.dims[i] - 1) * S[i]
	}
	return int((end + uint64(c.es()) + 15) &^ 15)
}

func (c *tmaCase) tensorMap(global uint64) emu.TensorMap {
	m := emu.TensorMap{DataType: c.dt, Rank: c.rank(), Global: global, Swizzle: c.swz, OOBFill: c.oob}
	S := c.S()
	for i := 0; i < c.rank(); i++ {
		m.Dims[i] = c.dims[i]
		m.Box[i] = c.box[i]
		m.ElementStrides[i] = 1
		if c.estr != nil {
			m.ElementStrides[i] = c.estr[i]
		}
		if i > 0 {
			m.Strides[i-1] = S[i]
		}
	}
	return m
}

// tmaSwizzle places byte a (offset from a 1024-aligned base) per the table of
// §11.2.4 (ISA §5.5.7): in 128-byte line r, 16-byte chunk c goes to position
// c ^ (r % 2) for 32B, c ^ (r % 4) for 64B and c ^ (r % 8) for 128B.
func tmaSwizzle(a uint64, swz int) uint64 {
	var rep uint64
	switch swz {
	case emu.Swizzle32B:
		rep = 2
	case emu.Swizzle64B:
		rep = 4
	case emu.Swizzle128B:
		rep = 8
	default:
		return a
	}
	line, chunk := a/128, (a%128)/16
	return line*128 + (chunk^(line%rep))*16 + a%16
}

// forBox calls f for every box element in shared-memory order with its
// position (bytes from dstMem, after the swizzle), its global byte offset and
// whether it is in bounds (§11.2.3, §11.2.4).
func (c *tmaCase) forBox(coord []int32, f func(pos int, goff uint64, in bool)) {
	n := c.n()
	S := c.S()
	es := c.es()
	k := make([]int, c.rank())
	for lin := 0; lin < c.boxBytes()/es; lin++ {
		rem := lin
		for i := range k {
			k[i] = rem % n[i]
			rem /= n[i]
		}
		in := true
		var goff uint64
		for i := range k {
			g := int64(coord[i]) + int64(k[i]*c.E(i))
			if g < 0 || g >= int64(c.dims[i]) {
				in = false
			} else {
				goff += uint64(g) * S[i]
			}
		}
		pos := int(tmaSwizzle(uint64(c.off+lin*es), c.swz)) - c.off
		f(pos, goff, in)
	}
}

func tmaCoordRegs(rank int) string {
	var r []string
	for i := 0; i < rank; i++ {
		r = append(r, fmt.Sprintf("%%r%d", 10+i))
	}
	return "{" + strings.Join(r, ", ") + "}"
}

// tmaLoadKernel: one thread loads each box of k_coords in turn (one mbarrier
// phase per box: arrive.expect_tx with the full box's bytes, wait parity),
// and copies the box's bytes from shared memory to k_out. The shared address
// of the buffer is stored after the boxes. mapIn: "param" (cvta.param of a
// .param .align 64 .b8 [128]) or "global" (pointer to the 128 bytes).
func tmaLoadKernel(c *tmaCase, nLoads int, mapIn string) string {
	bytes := c.boxBytes()
	size := (c.off + bytes + 1023) &^ 1023
	param := ".param .align 64 .b8 k_param_0[128]"
	mapCode := "mov.b64 %rd1, k_param_0;\n\tcvta.param.u64 %rd2, %rd1;"
	switch mapIn {
	case "global":
		param = ".param .u64 k_param_0"
		mapCode = "ld.param.u64 %rd2, [k_param_0];\n\tfence.proxy.tensormap::generic.acquire.sys [%rd2], 128;"
	case "param-raw":
		mapCode = "mov.b64 %rd2, k_param_0;"
	case "global-nofence":
		param = ".param .u64 k_param_0"
		mapCode = "ld.param.u64 %rd2, [k_param_0];"
	}
	var ld strings.Builder
	for i := 0; i < c.rank(); i++ {
		fmt.Fprintf(&ld, "\tld.global.u32 %%r%d, [%%rd6+%d];\n", 10+i, 4*i)
	}
	return ptxHeader + fmt.Sprintf(`.visible .entry k(%s, .param .u64 k_coords, .param .u64 k_out)
{
	.reg .pred %%p<4>;
	.reg .b32 %%r<32>;
	.reg .b64 %%rd<16>;
	.shared .align 16 .b8 pad[48];
	.shared .align 8 .b64 bar;
	.shared .align 1024 .b8 smem[%d];
	%s
	ld.param.u64 %%rd3, [k_coords];
	ld.param.u64 %%rd4, [k_out];
	mov.u32 %%r1, smem;
	mov.u32 %%r2, bar;
	mbarrier.init.shared::cta.b64 [%%r2], 1;
	fence.proxy.async.shared::cta;
	mov.u32 %%r3, 0;
LOOP:
	mul.wide.u32 %%rd5, %%r3, 20;
	add.s64 %%rd6, %%rd3, %%rd5;
%s	mbarrier.arrive.expect_tx.shared::cta.b64 %%rd7, [%%r2], %d;
	cp.async.bulk.tensor.%dd.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%%r1+%d], [%%rd2, %s], [%%r2];
	and.b32 %%r4, %%r3, 1;
WAIT:
	mbarrier.try_wait.parity.shared::cta.b64 %%p1, [%%r2], %%r4;
	@!%%p1 bra WAIT;
	mul.wide.u32 %%rd8, %%r3, %d;
	add.s64 %%rd9, %%rd4, %%rd8;
	mov.u32 %%r5, 0;
COPY:
	add.u32 %%r6, %%r1, %%r5;
	ld.shared.v4.u32 {%%r20, %%r21, %%r22, %%r23}, [%%r6+%d];
	cvt.u64.u32 %%rd10, %%r5;
	add.s64 %%rd11, %%rd9, %%rd10;
	st.global.v4.u32 [%%rd11], {%%r20, %%r21, %%r22, %%r23};
	add.u32 %%r5, %%r5, 16;
	setp.lt.u32 %%p2, %%r5, %d;
	@%%p2 bra COPY;
	fence.proxy.async.shared::cta;
	add.u32 %%r3, %%r3, 1;
	setp.lt.u32 %%p3, %%r3, %d;
	@%%p3 bra LOOP;
	st.global.u32 [%%rd4+%d], %%r1;
	ret;
}
`, param, size, mapCode, ld.String(), bytes, c.rank(), c.off, tmaCoordRegs(c.rank()), bytes, c.off, bytes, nLoads, nLoads*bytes)
}

func isNaNElem(dt int, b []byte) bool {
	switch dt {
	case emu.TensorFLOAT16:
		v := binary.LittleEndian.Uint16(b)
		return v&0x7C00 == 0x7C00 && v&0x03FF != 0
	case emu.TensorBFLOAT16:
		v := binary.LittleEndian.Uint16(b)
		return v&0x7F80 == 0x7F80 && v&0x007F != 0
	case emu.TensorFLOAT64:
		return math.IsNaN(math.Float64frombits(binary.LittleEndian.Uint64(b)))
	}
	return isNaN32(uint64(binary.LittleEndian.Uint32(b)))
}

// coordBytes packs the coordinates, 5 int32 per load.
func coordBytes(coords [][]int32) []byte {
	b := make([]byte, 20*len(coords))
	for j, c := range coords {
		for i, v := range c {
			binary.LittleEndian.PutUint32(b[20*j+4*i:], uint32(v))
		}
	}
	return b
}

// runTMALoad runs a case and checks every box byte.
func runTMALoad(t *testing.T, c *tmaCase, mapIn string, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewSource(int64(len(c.name)) + 31))
	dev := asyncDev(t, seed, tmaLoadKernel(c, len(c.coords), mapIn))
	gdata := randBytes(rng, c.globalBytes())
	gb := mustAlloc(t, dev, gdata)
	m, err := emu.EncodeTiled(c.tensorMap(gb.Ptr))
	if err != nil {
		t.Fatalf("%s: EncodeTiled rejected a valid map: %v", c.name, err)
	}
	bytes := c.boxBytes()
	cb := mustAlloc(t, dev, coordBytes(c.coords))
	ob := mustAlloc(t, dev, make([]byte, len(c.coords)*bytes+16))
	args := []uint64{0, cb.Ptr, ob.Ptr}
	var raw [][]byte
	if strings.HasPrefix(mapIn, "global") {
		mb := mustAlloc(t, dev, m[:])
		args[0] = mb.Ptr
	} else {
		raw = [][]byte{m[:], nil, nil}
	}
	if err := asyncRun(dev, 1, args, raw); err != nil {
		t.Errorf("%s (map in %s, seed %d): unexpected error/report: %v", c.name, mapIn, seed, errDetail(err))
		return
	}
	got := mustDownload(t, dev, ob)
	if a := le32(got[len(c.coords)*bytes:], 0); a%1024 != 0 {
		t.Fatalf("%s: test assumption broken: .align 1024 shared buffer at %#x", c.name, a)
	}
	es := c.es()
	for j, coord := range c.coords {
		box := got[j*bytes : (j+1)*bytes]
		bad := 0
		c.forBox(coord, func(pos int, goff uint64, in bool) {
			e := box[pos : pos+es]
			var ok bool
			var want string
			switch {
			case in:
				ok = string(e) == string(gdata[goff:goff+uint64(es)])
				want = fmt.Sprintf("global bytes % x (offset %d)", gdata[goff:goff+uint64(es)], goff)
			case c.oob == 1:
				ok = isNaNElem(c.dt, e)
				want = "a NaN (OOB-NaN fill, §11.2.3)"
			default:
				ok = string(e) == string(make([]byte, es))
				want = "zero (out-of-bounds fill, §11.2.3)"
			}
			if !ok && bad < 4 {
				bad++
				t.Errorf("%s (map in %s, seed %d) box %d at %v: element at shared offset %d: want %s, got % x", c.name, mapIn, seed, j, coord, pos, want, e)
			}
		})
	}
}

var tmaLoadCases = []*tmaCase{
	{name: "1d u8", dt: emu.TensorUINT8, dims: []uint64{100}, box: []uint32{32},
		coords: [][]int32{{0}, {40}, {80}, {-16}, {-40}, {200}, {68}}},
	{name: "2d u16 padded rows", dt: emu.TensorUINT16, dims: []uint64{20, 9}, strides: []uint64{48}, box: []uint32{8, 4},
		coords: [][]int32{{0, 0}, {12, 5}, {16, 7}, {-4, -2}, {-8, 0}, {24, 0}, {0, 9}, {3, -3}}},
	{name: "2d u64", dt: emu.TensorUINT64, dims: []uint64{6, 5}, strides: []uint64{64}, box: []uint32{2, 3},
		coords: [][]int32{{0, 0}, {5, 4}, {-1, -2}, {2, 1}}},
	{name: "3d f32 elementStrides (dim 0 stride ignored)", dt: emu.TensorFLOAT32, dims: []uint64{12, 10, 6}, strides: []uint64{64, 640},
		box: []uint32{4, 6, 5}, estr: []uint32{2, 4, 2},
		coords: [][]int32{{0, 0, 0}, {8, 7, 3}, {-2, -3, -1}, {10, 9, 5}, {1, 2, 1}}},
	{name: "4d s32", dt: emu.TensorINT32, dims: []uint64{8, 3, 4, 5}, box: []uint32{4, 2, 3, 2}, estr: []uint32{1, 1, 2, 1},
		coords: [][]int32{{0, 0, 0, 0}, {6, 2, 3, 4}, {-2, -1, -2, -1}, {4, 1, 0, 3}, {8, 0, 0, 0}}},
	{name: "5d f64", dt: emu.TensorFLOAT64, dims: []uint64{4, 3, 2, 3, 2}, box: []uint32{2, 2, 2, 3, 2}, estr: []uint32{1, 1, 1, 2, 1},
		coords: [][]int32{{0, 0, 0, 0, 0}, {2, 1, 1, 1, 1}, {-1, -1, 0, -1, 1}, {3, 2, 1, 2, 1}, {4, 0, 0, 0, 0}}},
	{name: "5d u8 permuted strides", dt: emu.TensorUINT8, dims: []uint64{16, 2, 3, 2, 2}, strides: []uint64{192, 16, 48, 384},
		box: []uint32{16, 2, 3, 2, 2}, coords: [][]int32{{0, 0, 0, 0, 0}, {0, 1, 1, -1, 1}}},
	{name: "2d f32 NaN fill", dt: emu.TensorFLOAT32, dims: []uint64{10, 6}, strides: []uint64{48}, box: []uint32{8, 4}, oob: 1,
		coords: [][]int32{{0, 0}, {4, 4}, {-8, -4}, {-3, 1}}},
	{name: "2d bf16 NaN fill", dt: emu.TensorBFLOAT16, dims: []uint64{20, 5}, strides: []uint64{48}, box: []uint32{16, 2}, oob: 1,
		coords: [][]int32{{0, 0}, {8, 4}, {-16, 0}}},
	{name: "2d f16 NaN fill", dt: emu.TensorFLOAT16, dims: []uint64{9, 3}, strides: []uint64{32}, box: []uint32{8, 4}, oob: 1,
		coords: [][]int32{{4, 1}, {0, 0}}},
	{name: "1d f64 NaN fill", dt: emu.TensorFLOAT64, dims: []uint64{10}, box: []uint32{4}, oob: 1,
		coords: [][]int32{{8}, {-2}, {12}, {0}}},
	{name: "2d u8 32B swizzle", dt: emu.TensorUINT8, dims: []uint64{40, 20}, strides: []uint64{48}, box: []uint32{32, 16}, swz: emu.Swizzle32B,
		coords: [][]int32{{0, 0}, {8, 2}, {20, 10}}},
	{name: "2d f16 64B swizzle", dt: emu.TensorFLOAT16, dims: []uint64{40, 20}, strides: []uint64{80}, box: []uint32{32, 16}, swz: emu.Swizzle64B,
		coords: [][]int32{{0, 0}, {5, 3}, {16, 12}}},
	{name: "2d bf16 128B swizzle", dt: emu.TensorBFLOAT16, dims: []uint64{72, 24}, strides: []uint64{144}, box: []uint32{64, 16}, swz: emu.Swizzle128B,
		coords: [][]int32{{0, 0}, {3, 5}, {40, 20}}},
	{name: "2d f32 128B swizzle", dt: emu.TensorFLOAT32, dims: []uint64{40, 40}, strides: []uint64{160}, box: []uint32{32, 8}, swz: emu.Swizzle128B,
		coords: [][]int32{{0, 0}, {10, 33}}},
	{name: "3d u16 64B swizzle with elementStrides", dt: emu.TensorUINT16, dims: []uint64{32, 6, 8}, box: []uint32{32, 4, 4}, estr: []uint32{1, 2, 2},
		swz: emu.Swizzle64B, coords: [][]int32{{0, 0, 0}, {0, 3, 5}}},
	{name: "2d u8 128B swizzle, destination 384 bytes past a 1024 boundary", dt: emu.TensorUINT8, dims: []uint64{200, 30}, strides: []uint64{208},
		box: []uint32{128, 12}, swz: emu.Swizzle128B, off: 384, coords: [][]int32{{0, 0}, {100, 20}}},
	{name: "2d u8 32B swizzle, destination 128 bytes past a 256 boundary", dt: emu.TensorUINT8, dims: []uint64{40, 20}, strides: []uint64{48},
		box: []uint32{32, 8}, swz: emu.Swizzle32B, off: 128, coords: [][]int32{{0, 0}}},
}

// TestISATensorLoad: tile-mode loads of 1-D to 5-D boxes with 1-, 2-, 4- and
// 8-byte elements, inside, across and entirely outside the tensor (negative
// coordinates too), elementStrides, every swizzle mode, zero and NaN fill.
// Each load's mbarrier phase is armed with the full box's bytes (§11.2.5).
func TestISATensorLoad(t *testing.T) {
	for _, c := range tmaLoadCases {
		t.Run(c.name, func(t *testing.T) { runTMALoad(t, c, "param", 1) })
	}
	t.Run("4d s32 seed 4", func(t *testing.T) { runTMALoad(t, tmaLoadCases[4], "param", 4) })
}

// TestISATensorLoadGlobalMap: the tensor map in global memory (§11.2.2),
// acquired with fence.proxy.tensormap::generic.acquire (§11.8.2-11.8.3: the
// form takes [addr], 128); and the same without the fence, since a map
// uploaded by the host was not written through the generic proxy by the
// kernel.
func TestISATensorLoadGlobalMap(t *testing.T) {
	t.Run("with acquire fence", func(t *testing.T) { runTMALoad(t, tmaLoadCases[1], "global", 2) })
	t.Run("with acquire fence, 128B swizzle", func(t *testing.T) { runTMALoad(t, tmaLoadCases[13], "global", 3) })
	t.Run("without fence", func(t *testing.T) { runTMALoad(t, tmaLoadCases[1], "global-nofence", 2) })
	// §11.2.2 / §11.11 #1 [interp]: the .param address from mov without
	// cvta.param is accepted too (the brief's API: "a raw mov address is
	// accepted too").
	t.Run("raw .param address", func(t *testing.T) { runTMALoad(t, tmaLoadCases[3], "param-raw", 1) })
}

// TestISAProxyFences: every sm_90 form of §11.8.2 (PTX <= 8.4) parses and,
// with lazily drained async operations and SC memory, has no effect on
// results (§11.8.4); fence.proxy.tensormap::generic.acquire needs the literal
// size 128.
func TestISAProxyFences(t *testing.T) {
	forms := []string{
		"fence.proxy.async;",
		"fence.proxy.async.global;",
		"fence.proxy.async.shared::cta;",
		"fence.proxy.async.shared::cluster;",
		"membar.proxy.async;",
		"fence.proxy.tensormap::generic.release.cta;",
		"fence.proxy.tensormap::generic.release.cluster;",
		"fence.proxy.tensormap::generic.release.gpu;",
		"fence.proxy.tensormap::generic.release.sys;",
		"fence.proxy.tensormap::generic.acquire.gpu [%rd1], 128;",
		"fence.proxy.tensormap::generic.acquire.sys [%rd1], 128;",
		"fence.mbarrier_init.release.cluster;",
	}
	for _, f := range forms {
		t.Run(f, func(t *testing.T) {
			src := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<4>;
	.reg .b64 %rd<4>;
	.shared .align 8 .b64 bar;
	ld.param.u64 %rd1, [k_out];
	mbarrier.init.shared::cta.b64 [bar], 1;
	` + f + `
	mbarrier.arrive.shared::cta.b64 _, [bar];
	mbarrier.test_wait.parity.shared::cta.b64 %p1, [bar], 0;
	selp.u32 %r1, 7, 9, %p1;
	st.global.u32 [%rd1], %r1;
	ret;
}
`
			dev := isaDevice(1)
			if _, err := dev.LoadPTX(src); err != nil {
				if strings.HasSuffix(f, ".release.cluster;") {
					// .release.cluster scope: clusters are outside the
					// emulator (the brief), so a refusal is only logged.
					t.Logf("%s refused at load (cluster-scoped fence): %v", f, err)
					return
				}
				t.Errorf("%s [§11.8.2 form on sm_90]: refused at load: %v", f, err)
				return
			}
			ob := mustAlloc(t, dev, make([]byte, 128))
			if err := asyncRun(dev, 1, []uint64{ob.Ptr}, nil); err != nil {
				t.Errorf("%s: unexpected error/report: %v", f, errDetail(err))
				return
			}
			if g := le32(mustDownload(t, dev, ob), 0); g != 7 {
				t.Errorf("%s: the program around the fence computed %d, want 7", f, g)
			}
		})
	}
	bad := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .b64 %rd<4>;
	ld.param.u64 %rd1, [k_out];
	fence.proxy.tensormap::generic.acquire.gpu [%rd1], 64;
	ret;
}
`
	if _, err := isaDevice(1).LoadPTX(bad); err == nil {
		t.Errorf("fence.proxy.tensormap::generic.acquire with size 64: must be refused [§11.8.2: size must be the literal 128]")
	}
}

// TestISATensorSwizzleSelfCheck: the table form of tmaSwizzle agrees with the
// ISA's rows for the 64B mode and with the XOR-on-address form of §11.2.4.
func TestISATensorSwizzleSelfCheck(t *testing.T) {
	rows64 := [][]uint64{{0, 1, 2, 3, 4, 5, 6, 7}, {1, 0, 3, 2, 5, 4, 7, 6}, {2, 3, 0, 1, 6, 7, 4, 5}, {3, 2, 1, 0, 7, 6, 5, 4}}
	for r, row := range rows64 {
		for pos, chunk := range row {
			if got := tmaSwizzle(uint64(r*128)+chunk*16, emu.Swizzle64B); got != uint64(r*128+pos*16) {
				t.Errorf("64B swizzle: line %d chunk %d -> %d, ISA table says position %d", r, chunk, (got%128)/16, pos)
			}
		}
	}
	for a := uint64(0); a < 4096; a++ {
		for swz, w := range map[int]int{emu.Swizzle32B: 32, emu.Swizzle64B: 64, emu.Swizzle128B: 128} {
			if tmaSwizzle(a, swz) != swizzleAddr(a, w) {
				t.Fatalf("swizzle forms disagree at %d (%dB)", a, w)
			}
		}
	}
}

// tmaStoreKernel: one thread copies the box image into shared memory, fences
// (§11.8.3: generic writes read by the async proxy), stores it with the
// tensor map at the coordinates and waits for the bulk group.
func tmaStoreKernel(c *tmaCase) string {
	bytes := c.boxBytes()
	var ld strings.Builder
	for i := 0; i < c.rank(); i++ {
		fmt.Fprintf(&ld, "\tld.global.u32 %%r%d, [%%rd4+%d];\n", 10+i, 4*i)
	}
	return ptxHeader + fmt.Sprintf(`.visible .entry k(.param .align 64 .b8 k_param_0[128], .param .u64 k_img, .param .u64 k_coords)
{
	.reg .pred %%p<4>;
	.reg .b32 %%r<32>;
	.reg .b64 %%rd<16>;
	.shared .align 1024 .b8 smem[%d];
	mov.b64 %%rd1, k_param_0;
	cvta.param.u64 %%rd2, %%rd1;
	ld.param.u64 %%rd3, [k_img];
	ld.param.u64 %%rd4, [k_coords];
	mov.u32 %%r1, smem;
	mov.u32 %%r5, 0;
COPY:
	cvt.u64.u32 %%rd5, %%r5;
	add.s64 %%rd6, %%rd3, %%rd5;
	ld.global.v4.u32 {%%r20, %%r21, %%r22, %%r23}, [%%rd6];
	add.u32 %%r6, %%r1, %%r5;
	st.shared.v4.u32 [%%r6+%d], {%%r20, %%r21, %%r22, %%r23};
	add.u32 %%r5, %%r5, 16;
	setp.lt.u32 %%p2, %%r5, %d;
	@%%p2 bra COPY;
	fence.proxy.async.shared::cta;
%s	cp.async.bulk.tensor.%dd.global.shared::cta.tile.bulk_group [%%rd2, %s], [%%r1+%d];
	cp.async.bulk.commit_group;
	cp.async.bulk.wait_group 0;
	ret;
}
`, (c.off+bytes+1023)&^1023, c.off, bytes, ld.String(), c.rank(), tmaCoordRegs(c.rank()), c.off)
}

// TestISATensorStore: shared -> global tensor stores (§11.2.6) write exactly
// the in-bounds box elements, reading shared memory with the load's layout
// and swizzle; everything else in global memory (padding, elements outside
// the box, out-of-bounds parts) keeps its contents.
func TestISATensorStore(t *testing.T) {
	cases := []*tmaCase{
		{name: "2d u16 store", dt: emu.TensorUINT16, dims: []uint64{20, 9}, strides: []uint64{48}, box: []uint32{8, 4},
			coords: [][]int32{{0, 0}, {16, 7}, {4, 2}, {20, 9}}},
		{name: "3d f32 store, padded strides", dt: emu.TensorFLOAT32, dims: []uint64{5, 3, 4}, strides: []uint64{32, 128}, box: []uint32{4, 2, 2},
			coords: [][]int32{{2, 2, 3}, {0, 0, 0}, {1, 1, 1}}},
		{name: "2d bf16 store, 128B swizzle", dt: emu.TensorBFLOAT16, dims: []uint64{72, 20}, strides: []uint64{144}, box: []uint32{64, 8},
			swz: emu.Swizzle128B, coords: [][]int32{{0, 0}, {40, 16}}},
		{name: "1d u8 store", dt: emu.TensorUINT8, dims: []uint64{50}, box: []uint32{32}, coords: [][]int32{{30}, {0}}},
		{name: "5d u64 store", dt: emu.TensorUINT64, dims: []uint64{2, 2, 2, 2, 3}, box: []uint32{2, 1, 2, 1, 2},
			coords: [][]int32{{0, 1, 0, 1, 2}, {0, 0, 1, 0, 0}}},
	}
	rng := rand.New(rand.NewSource(41))
	for _, c := range cases {
		dev := asyncDev(t, 1, tmaStoreKernel(c))
		size := c.globalBytes()
		gb := mustAlloc(t, dev, fillBytes(size, 0xEE))
		m, err := emu.EncodeTiled(c.tensorMap(gb.Ptr))
		if err != nil {
			t.Fatalf("%s: EncodeTiled: %v", c.name, err)
		}
		for j, coord := range c.coords {
			img := randBytes(rng, c.boxBytes())
			if err := dev.Upload(gb, fillBytes(size, 0xEE)); err != nil {
				t.Fatal(err)
			}
			ib := mustAlloc(t, dev, img)
			cb := mustAlloc(t, dev, coordBytes([][]int32{coord}))
			if err := asyncRun(dev, 1, []uint64{0, ib.Ptr, cb.Ptr}, [][]byte{m[:], nil, nil}); err != nil {
				t.Errorf("%s store %d at %v: unexpected error/report: %v", c.name, j, coord, errDetail(err))
				continue
			}
			want := fillBytes(size, 0xEE)
			es := c.es()
			c.forBox(coord, func(pos int, goff uint64, in bool) {
				if in {
					copy(want[goff:goff+uint64(es)], img[pos:pos+es])
				}
			})
			if d := firstDiff(mustDownload(t, dev, gb), want); d != "" {
				t.Errorf("%s store %d at %v: global tensor: %s [§11.2.6: only in-bounds elements are written]", c.name, j, coord, d)
			}
		}
	}
}

// TestISATensorSanitizer: the undefined cases of §11.2.7.
func TestISATensorSanitizer(t *testing.T) {
	c := &tmaCase{name: "2d f32", dt: emu.TensorFLOAT32, dims: []uint64{16, 16}, box: []uint32{8, 8}, coords: [][]int32{{0, 0}}}
	run := func(seed uint64, src string, corrupt func([]byte), coords []int32) error {
		dev := asyncDev(t, seed, src)
		gb := mustAlloc(t, dev, randBytes(rand.New(rand.NewSource(5)), c.globalBytes()))
		mm, err := emu.EncodeTiled(c.tensorMap(gb.Ptr))
		if err != nil {
			t.Fatalf("EncodeTiled: %v", err)
		}
		m := mm[:]
		if corrupt != nil {
			corrupt(m)
		}
		cb := mustAlloc(t, dev, coordBytes([][]int32{coords}))
		ob := mustAlloc(t, dev, make([]byte, c.boxBytes()+16))
		return asyncRun(dev, 1, []uint64{0, cb.Ptr, ob.Ptr}, [][]byte{m, nil, nil})
	}
	load := tmaLoadKernel(c, 1, "param")
	expectNone(t, "control: 2-D f32 tensor load", run(1, load, nil, []int32{0, 0}))
	for seed := uint64(1); seed <= 3; seed++ {
		early := strings.Replace(load, "WAIT:\n", "\tld.shared.u32 %r24, [%r1+64];\n\tst.global.u32 [%rd4], %r24;\nWAIT:\n", 1)
		expectKinds(t, fmt.Sprintf("seed %d: reading a tensor load's destination before the mbarrier wait [§11.0, §11.2.7]", seed), run(seed, early, nil, []int32{0, 0}), emu.KindAsync)
	}
	mis := strings.Replace(load, "[%r1+0], [%rd2", "[%r1+16], [%rd2", 1)
	if err := run(1, mis, nil, []int32{0, 0}); err == nil {
		t.Errorf("tensor load to a 16- but not 128-byte-aligned shared address: expected a report [§11.2.4 interp: hardware requires 128]")
	} else {
		t.Logf("dstMem %% 128 != 0 reported: %v", err)
	}
	mis8 := strings.Replace(load, "[%r1+0], [%rd2", "[%r1+8], [%rd2", 1)
	if err := run(1, mis8, nil, []int32{0, 0}); err == nil {
		t.Errorf("tensor load to an 8-byte-aligned shared address: expected an error [§11.2.4: 16-byte alignment]")
	}
	// A corrupted map (not what EncodeTiled produced).
	corruptions := map[string]func([]byte){
		"128 zero bytes":           func(m []byte) { copy(m, make([]byte, 128)) },
		"128 random bytes":         func(m []byte) { copy(m, randBytes(rand.New(rand.NewSource(8)), 128)) },
		"the map shifted 16 bytes": func(m []byte) { copy(m[16:], append([]byte(nil), m[:112]...)) },
		"byte 0 flipped":           func(m []byte) { m[0] ^= 0x40 },
		"byte 40 flipped":          func(m []byte) { m[40] ^= 0x01 },
		"byte 127 flipped":         func(m []byte) { m[127] ^= 0x80 },
	}
	for name, f := range corruptions {
		if err := run(1, load, f, []int32{0, 0}); err == nil {
			t.Errorf("tensor load with a corrupted tensor map (%s): expected an error [§11.2.7: not a valid emulator-encoded map; §11.7.3 decoding]", name)
		}
	}
	// .dim different from the map's rank.
	dim3 := strings.Replace(load, "tensor.2d", "tensor.3d", 1)
	dim3 = strings.Replace(dim3, "{%r10, %r11}", "{%r10, %r11, %r12}", 1)
	dim3 = strings.Replace(dim3, "ld.global.u32 %r11, [%rd6+4];", "ld.global.u32 %r11, [%rd6+4];\n\tld.global.u32 %r12, [%rd6+8];", 1)
	if err := run(1, dim3, nil, []int32{0, 0, 0}); err == nil {
		t.Errorf(".3d tensor load with a rank-2 map: expected an error [§11.2.7 interp: .dim must match the rank]")
	}
	// Negative coordinates on a store.
	st := &tmaCase{name: "2d f32 store", dt: emu.TensorFLOAT32, dims: []uint64{16, 16}, box: []uint32{8, 8}}
	dev := asyncDev(t, 1, tmaStoreKernel(st))
	gb := mustAlloc(t, dev, fillBytes(st.globalBytes(), 1))
	m, _ := emu.EncodeTiled(st.tensorMap(gb.Ptr))
	ib := mustAlloc(t, dev, randBytes(rand.New(rand.NewSource(6)), st.boxBytes()))
	cb := mustAlloc(t, dev, coordBytes([][]int32{{-4, 0}}))
	if err := asyncRun(dev, 1, []uint64{0, ib.Ptr, cb.Ptr}, [][]byte{m[:], nil, nil}); err == nil {
		t.Errorf("tensor store at coordinates (-4, 0): expected a report [§11.2.6: negative store coordinates are undefined]")
	} else {
		t.Logf("negative store coordinates reported: %v", err)
	}
}

// TestISATensorClusterRefused: clusters and multicast are not implemented;
// the emulator must refuse them at load rather than run them wrongly.
func TestISATensorClusterRefused(t *testing.T) {
	srcs := map[string]string{
		"multicast tensor load": `.visible .entry k(.param .align 64 .b8 k_param_0[128])
{
	.reg .b16 %h<2>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<4>;
	.shared .align 8 .b64 bar;
	.shared .align 1024 .b8 smem[1024];
	mov.b64 %rd1, k_param_0;
	cvta.param.u64 %rd2, %rd1;
	mov.u32 %r1, smem;
	mov.u32 %r2, bar;
	mov.u32 %r3, 0;
	mov.b16 %h1, 3;
	cp.async.bulk.tensor.1d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%r1], [%rd2, {%r3}], [%r2], %h1;
	ret;
}
`,
		"barrier.cluster": `.visible .entry k()
{
	barrier.cluster.arrive;
	barrier.cluster.wait;
	ret;
}
`,
		"mapa": `.visible .entry k()
{
	.reg .b32 %r<4>;
	.shared .align 8 .b64 bar;
	mov.u32 %r1, bar;
	mapa.shared::cluster.u32 %r2, %r1, 1;
	ret;
}
`,
	}
	for name, body := range srcs {
		dev := isaDevice(1)
		if _, err := dev.LoadPTX(ptxHeader + body); err == nil {
			t.Errorf("%s: clusters are not implemented, LoadPTX must refuse it, but accepted it", name)
		} else {
			t.Logf("%s refused: %v", name, err)
		}
	}
	// A kernel that only declares 2-CTA clusters and uses no cluster feature.
	// Running its CTAs as 1-CTA clusters is observably the same, so this is
	// only logged (see the report: ambiguity).
	src := ptxHeader + `.visible .entry k(.param .u64 k_out) .reqnctapercluster 2, 1, 1
{
	ret;
}
`
	dev := isaDevice(1)
	if _, err := dev.LoadPTX(src); err != nil {
		t.Logf(".reqnctapercluster refused at load: %v", err)
		return
	}
	ob := mustAlloc(t, dev, make([]byte, 16))
	if _, err := dev.Run("k", emu.LaunchConfig{Grid: [3]uint32{2, 1, 1}, Block: [3]uint32{1, 1, 1}, Args: []uint64{ob.Ptr}}); err != nil {
		t.Logf(".reqnctapercluster refused at launch: %v", err)
		return
	}
	t.Logf("note: a kernel declaring .reqnctapercluster 2,1,1 is accepted and launched (as independent CTAs)")
}

// TestISATensorMapEncode: the driver's validation table (§11.7.2): every
// documented constraint rejected with CUDA_ERROR_INVALID_VALUE, boundary
// values and undocumented cases accepted.
func TestISATensorMapEncode(t *testing.T) {
	base := func() emu.TensorMap {
		return emu.TensorMap{DataType: emu.TensorFLOAT32, Rank: 3, Global: 0x100000,
			Dims: [5]uint64{64, 32, 8}, Strides: [4]uint64{256, 8192}, Box: [5]uint32{32, 8, 2},
			ElementStrides: [5]uint32{1, 1, 1}, Swizzle: emu.Swizzle128B, L2Promotion: 2, OOBFill: 0}
	}
	interleaved := func(il int) emu.TensorMap {
		m := base()
		m.Interleave = il
		m.Swizzle = emu.Swizzle32B
		m.Box[0] = 8 // 32 bytes
		return m
	}
	cases := []struct {
		rule string
		ok   bool
		mod  func(m *emu.TensorMap)
	}{
		{"valid base map (rank 3, f32, 128B swizzle with a 128-byte inner box)", true, func(m *emu.TensorMap) {}},
		{"#3 rank 0", false, func(m *emu.TensorMap) { m.Rank = 0 }},
		{"#3 rank 6", false, func(m *emu.TensorMap) { m.Rank = 6 }},
		{"#3 rank 1 (unused dims/box/strides zero)", true, func(m *emu.TensorMap) {
			m.Rank = 1
			m.Dims = [5]uint64{64}
			m.Strides = [4]uint64{}
			m.Box = [5]uint32{32}
			m.ElementStrides = [5]uint32{1}
		}},
		{"#3 rank 5", true, func(m *emu.TensorMap) {
			m.Rank = 5
			m.Dims = [5]uint64{64, 32, 8, 2, 3}
			m.Strides = [4]uint64{256, 8192, 65536, 131072}
			m.Box = [5]uint32{32, 8, 2, 1, 3}
			m.ElementStrides = [5]uint32{1, 1, 1, 1, 1}
		}},
		{"#2 data type 16 (no such CUtensorMapDataType)", false, func(m *emu.TensorMap) { m.DataType = 16 }},
		{"#2 data type -1", false, func(m *emu.TensorMap) { m.DataType = -1 }},
		{"#2 data type UINT8 (box 128 bytes)", true, func(m *emu.TensorMap) { m.DataType = emu.TensorUINT8; m.Box[0] = 128 }},
		{"#2 data type TFLOAT32_FTZ", true, func(m *emu.TensorMap) { m.DataType = emu.TensorTFLOAT32FTZ }},
		{"#3 interleave 16B needs rank >= 3: rank 2", false, func(m *emu.TensorMap) {
			*m = interleaved(1)
			m.Rank = 2
		}},
		{"#3 interleave 16B with rank 3", true, func(m *emu.TensorMap) { *m = interleaved(1) }},
		{"#9 interleave value 3", false, func(m *emu.TensorMap) { *m = interleaved(3) }},
		{"#4 global address 8 mod 16", false, func(m *emu.TensorMap) { m.Global = 0x100008 }},
		{"#4 global address 16-aligned (not 128)", true, func(m *emu.TensorMap) { m.Global = 0x100010; m.Swizzle = emu.SwizzleNone }},
		{"#4 interleave 32B needs a 32-aligned global address: 16 mod 32", false, func(m *emu.TensorMap) {
			*m = interleaved(2)
			m.Global = 0x100010
		}},
		{"#10 interleave 32B with swizzle 32B, 32-aligned address and strides", true, func(m *emu.TensorMap) { *m = interleaved(2) }},
		{"#10 interleave 32B requires swizzle 32B: 64B", false, func(m *emu.TensorMap) {
			*m = interleaved(2)
			m.Swizzle = emu.Swizzle64B
		}},
		{"#10 interleave 32B requires swizzle 32B: none", false, func(m *emu.TensorMap) {
			*m = interleaved(2)
			m.Swizzle = emu.SwizzleNone
		}},
		{"#6 interleave 32B: stride a multiple of 32 (48)", false, func(m *emu.TensorMap) {
			*m = interleaved(2)
			m.Dims[0] = 8
			m.Strides[0] = 48
		}},
		{"#5 globalDim 0", false, func(m *emu.TensorMap) { m.Dims[1] = 0 }},
		{"#5 globalDim 2^32 + 1", false, func(m *emu.TensorMap) { m.Dims[2] = 1<<32 + 1 }},
		{"#5 globalDim 2^32", true, func(m *emu.TensorMap) { m.Dims[2] = 1 << 32 }},
		{"#6 stride not a multiple of 16 (264)", false, func(m *emu.TensorMap) { m.Strides[0] = 264 }},
		{"#6 stride 2^40", false, func(m *emu.TensorMap) { m.Strides[1] = 1 << 40 }},
		{"#6 stride 2^40 - 16", true, func(m *emu.TensorMap) { m.Strides[1] = 1<<40 - 16 }},
		{"#6 permuted (non-monotone) strides are not checked (§11.7.2 remark)", true, func(m *emu.TensorMap) { m.Strides = [4]uint64{8192, 256} }},
		{"#7 boxDim 0", false, func(m *emu.TensorMap) { m.Box[2] = 0 }},
		{"#7 boxDim 257", false, func(m *emu.TensorMap) { m.Box[1] = 257 }},
		{"#7 boxDim 256", true, func(m *emu.TensorMap) { m.Box[1] = 256 }},
		{"#7 boxDim larger than globalDim is not checked (§11.7.2 remark)", true, func(m *emu.TensorMap) { m.Box[2] = 200 }},
		{"#7 boxDim[0]*elemSize not a multiple of 16 (6 f32 = 24 B)", false, func(m *emu.TensorMap) { m.Box[0] = 6; m.Swizzle = emu.SwizzleNone }},
		{"#7 boxDim[0]*elemSize = 48 without swizzle", true, func(m *emu.TensorMap) { m.Box[0] = 12; m.Swizzle = emu.SwizzleNone }},
		{"#8 elementStrides 0", false, func(m *emu.TensorMap) { m.ElementStrides[1] = 0 }},
		{"#8 elementStrides 9", false, func(m *emu.TensorMap) { m.ElementStrides[2] = 9 }},
		{"#8 elementStrides 8", true, func(m *emu.TensorMap) { m.ElementStrides[2] = 8 }},
		{"#9 128B swizzle with a 256-byte inner box", false, func(m *emu.TensorMap) { m.Box[0] = 64 }},
		{"#9 64B swizzle with a 128-byte inner box", false, func(m *emu.TensorMap) { m.Swizzle = emu.Swizzle64B }},
		{"#9 32B swizzle with a 64-byte inner box", false, func(m *emu.TensorMap) { m.Swizzle = emu.Swizzle32B; m.Box[0] = 16 }},
		{"#9 64B swizzle with a 64-byte inner box", true, func(m *emu.TensorMap) { m.Swizzle = emu.Swizzle64B; m.Box[0] = 16 }},
		{"#9 32B swizzle with a 32-byte inner box", true, func(m *emu.TensorMap) { m.Swizzle = emu.Swizzle32B; m.Box[0] = 8 }},
		{"#9 64B swizzle with a 32-byte inner box (<= span is allowed)", true, func(m *emu.TensorMap) { m.Swizzle = emu.Swizzle64B; m.Box[0] = 8 }},
		{"#10 swizzle value 7", false, func(m *emu.TensorMap) { m.Swizzle = 7 }},
		{"#11 l2Promotion 4", false, func(m *emu.TensorMap) { m.L2Promotion = 4 }},
		{"#11 l2Promotion 3", true, func(m *emu.TensorMap) { m.L2Promotion = 3 }},
		{"#12 oobFill 2", false, func(m *emu.TensorMap) { m.OOBFill = 2 }},
		{"#12 NaN fill for FLOAT32", true, func(m *emu.TensorMap) { m.OOBFill = 1 }},
		{"#12 NaN fill for FLOAT16", true, func(m *emu.TensorMap) { m.OOBFill = 1; m.DataType = emu.TensorFLOAT16; m.Box[0] = 64 }},
		{"#12 NaN fill for BFLOAT16", true, func(m *emu.TensorMap) { m.OOBFill = 1; m.DataType = emu.TensorBFLOAT16; m.Box[0] = 64 }},
		{"#12 NaN fill for FLOAT64", true, func(m *emu.TensorMap) { m.OOBFill = 1; m.DataType = emu.TensorFLOAT64; m.Box[0] = 16 }},
		{"#12 NaN fill for TFLOAT32", true, func(m *emu.TensorMap) { m.OOBFill = 1; m.DataType = emu.TensorTFLOAT32 }},
		{"#12 NaN fill for UINT8", false, func(m *emu.TensorMap) { m.OOBFill = 1; m.DataType = emu.TensorUINT8; m.Box[0] = 128 }},
		{"#12 NaN fill for INT32", false, func(m *emu.TensorMap) { m.OOBFill = 1; m.DataType = emu.TensorINT32 }},
		{"#12 NaN fill for UINT64", false, func(m *emu.TensorMap) { m.OOBFill = 1; m.DataType = emu.TensorUINT64; m.Box[0] = 16 }},
	}
	for _, c := range cases {
		m := base()
		c.mod(&m)
		enc, err := emu.EncodeTiled(m)
		var inv emu.ErrInvalidValue
		switch {
		case c.ok && err != nil:
			t.Errorf("EncodeTiled %s: valid, but rejected: %v", c.rule, err)
		case !c.ok && err == nil:
			t.Errorf("EncodeTiled %s: must return CUDA_ERROR_INVALID_VALUE [§11.7.2], accepted", c.rule)
		case !c.ok && !errors.As(err, &inv):
			t.Errorf("EncodeTiled %s: want an emu.ErrInvalidValue, got %T: %v", c.rule, err, err)
		case c.ok:
			if enc2, _ := emu.EncodeTiled(m); enc2 != enc {
				t.Errorf("EncodeTiled %s: two encodings of the same map differ", c.rule)
			}
		}
	}
}
