package emu_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

// tmaKernel: thread 0 initialises an mbarrier, arms it with the box's
// bytes and issues a 2-D tensor load; every thread waits on the phase's
// parity, then copies the 1024 shared bytes the box landed in to out.
const tmaKernel = `.version 8.4
.target sm_90a
.address_size 64
.visible .entry tma(.param .align 64 .b8 tma_param_0[128], .param .u64 tma_param_1, .param .u32 tma_param_2, .param .u32 tma_param_3)
{
	.reg .pred %p<4>;
	.reg .b32 %r<12>;
	.reg .b64 %rd<12>;
	.shared .align 1024 .b8 box[1024];
	.shared .align 8 .b64 bar;
	mov.u32 %r1, %tid.x;
	setp.ne.s32 %p1, %r1, 0;
	@%p1 bra $L_wait;
	mov.u64 %rd1, bar;
	mbarrier.init.shared.b64 [%rd1], 1;
	fence.proxy.async.shared::cta;
	mov.b64 %rd2, tma_param_0;
	cvta.param.u64 %rd3, %rd2;
	ld.param.u32 %r2, [tma_param_2];
	ld.param.u32 %r3, [tma_param_3];
	mov.u64 %rd4, box;
	mbarrier.arrive.expect_tx.shared.b64 %rd5, [%rd1], 1024;
	cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%rd4], [%rd3, {%r2, %r3}], [%rd1];
$L_wait:
	bar.sync 0;
	mov.u64 %rd1, bar;
$L_spin:
	mbarrier.try_wait.parity.shared.b64 %p2, [%rd1], 0;
	@!%p2 bra $L_spin;
	ld.param.u64 %rd6, [tma_param_1];
	mul.wide.u32 %rd7, %r1, 8;
	mov.u64 %rd8, box;
	add.s64 %rd9, %rd8, %rd7;
	ld.shared.u64 %rd10, [%rd9];
	add.s64 %rd11, %rd6, %rd7;
	st.global.u64 [%rd11], %rd10;
	ret;
}
`

// A 2-D tile of an f32 tensor, partly outside it, loaded with the 128-byte
// swizzle: every element lands where the ISA's swizzle puts it, zeros
// outside the tensor.
func TestTensorLoadSwizzledOutOfBounds(t *testing.T) {
	const W, H = 40, 20  // the tensor
	const BX, BY = 32, 8 // the box: 32 f32 = the 128-byte span
	dev := emu.NewDevice(emu.Options{Sanitize: true, Seed: 5})
	if _, err := dev.LoadPTX(tmaKernel); err != nil {
		t.Fatal(err)
	}
	src, _ := dev.Alloc(W * H * 4)
	data := make([]byte, W*H*4)
	for i := 0; i < W*H; i++ {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i+1)))
	}
	if err := dev.Upload(src, data); err != nil {
		t.Fatal(err)
	}
	out, _ := dev.Alloc(1024)
	tm, err := emu.EncodeTiled(emu.TensorMap{DataType: emu.TensorFLOAT32, Rank: 2, Global: src.Ptr, Dims: [5]uint64{W, H},
		Strides: [4]uint64{W * 4}, Box: [5]uint32{BX, BY}, ElementStrides: [5]uint32{1, 1}, Swizzle: emu.Swizzle128B})
	if err != nil {
		t.Fatal(err)
	}
	x0, y0 := 16, 15
	cfg := emu.LaunchConfig{Grid: [3]uint32{1, 1, 1}, Block: [3]uint32{128, 1, 1}, Args: []uint64{0, out.Ptr, uint64(x0), uint64(y0)}, RawArgs: [][]byte{tm[:]}}
	if _, err := dev.Run("tma", cfg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 1024)
	if err := dev.Download(got, out); err != nil {
		t.Fatal(err)
	}
	for y := 0; y < BY; y++ {
		for x := 0; x < BX; x++ {
			off := uint32(y*BX*4 + x*4) // the box's address is 1024-aligned
			sw := off ^ (off>>7&7)<<4
			v := math.Float32frombits(binary.LittleEndian.Uint32(got[sw:]))
			want := float32(0)
			if gx, gy := x0+x, y0+y; gx < W && gy < H {
				want = float32(gy*W + gx + 1)
			}
			if v != want {
				t.Fatalf("box (%d, %d) at swizzled offset %d: %g, want %g", x, y, sw, v, want)
			}
		}
	}
	// A tensor map that is not EncodeTiled's is refused.
	bad := tm
	bad[20] ^= 1
	cfg.RawArgs = [][]byte{bad[:]}
	if _, err := dev.Run("tma", cfg); err == nil || !err.(*emu.Report).Has(emu.KindAsync) {
		t.Fatalf("a corrupted tensor map: %v", err)
	}
	// The driver's checks: a box row wider than the swizzle span.
	if _, err := emu.EncodeTiled(emu.TensorMap{DataType: emu.TensorFLOAT32, Rank: 2, Global: src.Ptr, Dims: [5]uint64{W, H},
		Strides: [4]uint64{W * 4}, Box: [5]uint32{64, BY}, ElementStrides: [5]uint32{1, 1}, Swizzle: emu.Swizzle128B}); err == nil {
		t.Fatal("a 256-byte box row with the 128-byte swizzle was accepted")
	}
}
