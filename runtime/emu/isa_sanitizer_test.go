package emu_test

// Sanitizer findings for the cases the ISA (docs/ptx-isa-notes.md) calls
// undefined, and no findings for the matching well-defined programs.

import (
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

// launch runs one kernel with the given buffers (nil data = allocated, never
// written) and returns the error of Run.
func launch(t *testing.T, seed uint64, src string, block uint32, bufs ...[]byte) (*emu.Device, []uint64, error) {
	t.Helper()
	dev := isaDevice(seed)
	if _, err := dev.LoadPTX(src); err != nil {
		t.Fatalf("LoadPTX: %v\n%s", err, numbered(src))
	}
	var ptrs []uint64
	for _, b := range bufs {
		if b == nil {
			buf, err := dev.Alloc(128)
			if err != nil {
				t.Fatalf("Alloc: %v", err)
			}
			ptrs = append(ptrs, buf.Ptr)
			continue
		}
		ptrs = append(ptrs, mustAlloc(t, dev, b).Ptr)
	}
	_, err := dev.Run("k", emu.LaunchConfig{Grid: [3]uint32{1, 1, 1}, Block: [3]uint32{block, 1, 1}, Args: ptrs})
	return dev, ptrs, err
}

func expectClean(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: expected no finding, got: %v", what, err)
	}
}

func TestISASanitizerOutOfBounds(t *testing.T) {
	src := func(off string) string {
		return ptxHeader + `.visible .entry k(.param .u64 k_buf)
{
	.reg .b32 %r<4>;
	.reg .b64 %rd<8>;
	ld.param.u64 %rd1, [k_buf];
	mov.u32 %r1, %tid.x;
	mul.wide.u32 %rd2, %r1, 4;
	add.s64 %rd3, %rd1, %rd2;
	st.global.u32 [%rd3+` + off + `], %r1;
	ret;
}
`
	}
	// 32 threads × 4 bytes = exactly the 128-byte buffer.
	_, _, err := launch(t, 1, src("0"), 32, make([]byte, 128))
	expectClean(t, "32 u32 stores inside a 128-byte buffer", err)
	_, _, err = launch(t, 1, src("4"), 32, make([]byte, 128))
	expectKinds(t, "thread 31 stores one element past the end of the buffer", err, emu.KindOutOfBounds)
}

func TestISASanitizerMisaligned(t *testing.T) {
	src := func(off string) string {
		return ptxHeader + `.visible .entry k(.param .u64 k_buf, .param .u64 k_out)
{
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	ld.param.u64 %rd1, [k_buf];
	ld.param.u64 %rd2, [k_out];
	ld.global.v4.u32 {%r1, %r2, %r3, %r4}, [%rd1+` + off + `];
	st.global.v4.u32 [%rd2], {%r1, %r2, %r3, %r4};
	ret;
}
`
	}
	_, _, err := launch(t, 1, src("16"), 1, make([]byte, 64), make([]byte, 16))
	expectClean(t, "ld.global.v4.u32 at a 16-byte-aligned address", err)
	_, _, err = launch(t, 1, src("8"), 1, make([]byte, 64), make([]byte, 16))
	expectKinds(t, "ld.global.v4.u32 (16-byte access) at an 8-byte-aligned address [§8.1 accesses must be naturally aligned to their total size]", err, emu.KindMisaligned)
}

func TestISASanitizerUninitialized(t *testing.T) {
	src := ptxHeader + `.visible .entry k(.param .u64 k_in, .param .u64 k_out)
{
	.reg .b32 %r<4>;
	.reg .b64 %rd<8>;
	ld.param.u64 %rd1, [k_in];
	ld.param.u64 %rd2, [k_out];
	ld.global.u32 %r1, [%rd1+12];
	st.global.u32 [%rd2], %r1;
	ret;
}
`
	_, _, err := launch(t, 1, src, 1, make([]byte, 128), make([]byte, 4))
	expectClean(t, "reading an uploaded buffer", err)
	_, _, err = launch(t, 1, src, 1, nil, make([]byte, 4))
	expectKinds(t, "reading a freshly allocated, never written buffer", err, emu.KindUninitialized)
}

func TestISASanitizerSharedRace(t *testing.T) {
	// Lane 0 of each of two warps writes the same shared word.
	race := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	.shared .align 4 .b32 w;
	ld.param.u64 %rd1, [k_out];
	mov.u32 %r1, %tid.x;
	and.b32 %r2, %r1, 31;
	setp.eq.u32 %p1, %r2, 0;
	@%p1 st.shared.u32 [w], %r1;
	bar.sync 0;
	setp.eq.u32 %p2, %r1, 0;
	@!%p2 bra DONE;
	ld.shared.u32 %r3, [w];
	st.global.u32 [%rd1], %r3;
DONE:
	ret;
}
`
	for seed := uint64(1); seed <= 3; seed++ {
		_, _, err := launch(t, seed, race, 64, make([]byte, 4))
		expectKinds(t, "two warps write one shared word with no barrier between them", err, emu.KindRace)
	}
	// The same writes ordered by bar.sync: warp 0 writes, barrier, warp 1 writes.
	ordered := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	.shared .align 4 .b32 w;
	ld.param.u64 %rd1, [k_out];
	mov.u32 %r1, %tid.x;
	setp.eq.u32 %p1, %r1, 0;
	setp.eq.u32 %p2, %r1, 32;
	@%p1 st.shared.u32 [w], %r1;
	bar.sync 0;
	@%p2 st.shared.u32 [w], %r1;
	bar.sync 0;
	@!%p1 bra DONE;
	ld.shared.u32 %r3, [w];
	st.global.u32 [%rd1], %r3;
DONE:
	ret;
}
`
	for seed := uint64(1); seed <= 3; seed++ {
		dev, ptrs, err := launch(t, seed, ordered, 64, make([]byte, 4))
		expectClean(t, "the same two writes separated by bar.sync [§9.5 barrier orders memory]", err)
		if g := le32(downloadAt(t, dev, ptrs[0], 4), 0); g != 32 {
			t.Errorf("seed %d: the write after the barrier must win: want 32, got %d", seed, g)
		}
	}
	// A write in one warp and a read in another with no barrier.
	rw := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	.shared .align 4 .b32 w;
	ld.param.u64 %rd1, [k_out];
	mov.u32 %r1, %tid.x;
	setp.eq.u32 %p1, %r1, 0;
	setp.eq.u32 %p2, %r1, 32;
	@%p1 st.shared.u32 [w], %r1;
	@!%p2 bra DONE;
	ld.shared.u32 %r3, [w];
	st.global.u32 [%rd1], %r3;
DONE:
	ret;
}
`
	_, _, err := launch(t, 1, rw, 64, make([]byte, 4))
	expectKinds(t, "warp 0 writes and warp 1 reads one shared word with no barrier", err, emu.KindRace, emu.KindUninitialized)
}

func TestISASanitizerBarrierDivergent(t *testing.T) {
	// Half of a warp executes one bar.sync, the other half a different one:
	// bar.sync is barrier.sync.aligned, which requires every thread to execute
	// the same instruction (§9.5: divergent use is undefined).
	src := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	ld.param.u64 %rd1, [k_out];
	mov.u32 %r1, %tid.x;
	setp.lt.u32 %p1, %r1, 16;
	@!%p1 bra SKIP;
	bar.sync 0;
SKIP:
	bar.sync 0;
	mul.wide.u32 %rd2, %r1, 4;
	add.s64 %rd3, %rd1, %rd2;
	st.global.u32 [%rd3], %r1;
	ret;
}
`
	_, _, err := launch(t, 1, src, 32, make([]byte, 128))
	expectKinds(t, "bar.sync inside a branch that only half of the warp takes", err, emu.KindBarrier, emu.KindDivergence)
}

func TestISASanitizerExitedThreadsAtBarrier(t *testing.T) {
	// §9.5 / ISA §9.7.12.7 exit: threads that exited never block a barrier
	// waiting on all threads of the CTA. Warp 1 exits at once, and the upper
	// half of warp 0 exits too; the rest pass bar.sync 0 twice.
	src := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	.shared .align 4 .b8 sm[64];
	ld.param.u64 %rd1, [k_out];
	mov.u32 %r1, %tid.x;
	setp.ge.u32 %p1, %r1, 16;
	@%p1 exit;
	mov.u64 %rd4, sm;
	mul.wide.u32 %rd2, %r1, 4;
	add.s64 %rd5, %rd4, %rd2;
	st.shared.u32 [%rd5], %r1;
	bar.sync 0;
	xor.b32 %r2, %r1, 15;
	mul.wide.u32 %rd6, %r2, 4;
	add.s64 %rd7, %rd4, %rd6;
	ld.shared.u32 %r3, [%rd7];
	add.s64 %rd3, %rd1, %rd2;
	st.global.u32 [%rd3], %r3;
	bar.sync 0;
	ret;
}
`
	for seed := uint64(1); seed <= 3; seed++ {
		dev, ptrs, err := launch(t, seed, src, 64, make([]byte, 64))
		if err != nil {
			t.Errorf("seed %d: exited threads must not block a full-CTA bar.sync [ISA §9.7.12.7 exit]: got %v", seed, err)
			continue
		}
		out := downloadAt(t, dev, ptrs[0], 64)
		for i := 0; i < 16; i++ {
			if g := le32(out, i); g != uint32(i^15) {
				t.Errorf("seed %d: out[%d] = %d, want %d", seed, i, g, i^15)
			}
		}
	}
}

func TestISASanitizerDeadlock(t *testing.T) {
	// Two warps wait at different barriers, each of which needs all threads of
	// the CTA: neither can complete.
	src := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	ld.param.u64 %rd1, [k_out];
	mov.u32 %r1, %tid.x;
	setp.lt.u32 %p1, %r1, 32;
	@%p1 bra W0;
	bar.sync 1;
	bra DONE;
W0:
	bar.sync 0;
DONE:
	st.global.u32 [%rd1], %r1;
	ret;
}
`
	_, _, err := launch(t, 1, src, 64, make([]byte, 4))
	expectKinds(t, "warp 0 waits at barrier 0 and warp 1 at barrier 1, each needing the whole CTA", err, emu.KindDeadlock)

	// [interp] of the notes (§9.5): a barrier with an explicit count that needs a
	// warp which has exited can never complete -> deadlock.
	cnt := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	ld.param.u64 %rd1, [k_out];
	mov.u32 %r1, %tid.x;
	setp.ge.u32 %p1, %r1, 32;
	@%p1 exit;
	bar.sync 0, 64;
	st.global.u32 [%rd1], %r1;
	ret;
}
`
	_, _, err = launch(t, 1, cnt, 64, make([]byte, 4))
	expectKinds(t, "bar.sync 0, 64 while warp 1 has exited [notes §9.5 interp: count-b barrier needing an exited warp hangs]", err, emu.KindDeadlock)
}

func TestISASanitizerUndefinedRegister(t *testing.T) {
	src := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .b32 %r<4>;
	.reg .b64 %rd<10>;
	ld.param.u64 %rd1, [k_out];
	ld.global.u32 %r1, [%rd9];
	st.global.u32 [%rd1], %r1;
	ret;
}
`
	_, _, err := launch(t, 1, src, 1, make([]byte, 4))
	expectKinds(t, "a never-written register used as an address", err, emu.KindUndefined)
}
