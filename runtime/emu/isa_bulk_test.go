package emu_test

// Hopper asynchronous machinery, part: cp.async.bulk (docs/ptx-isa-notes.md §11.6).
// Expected values come from the notes' rules, never from the emulator's code.

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

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
