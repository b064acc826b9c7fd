package emu_test

import (
	"encoding/binary"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

// Dynamic shared memory as llc declares it (a module-scope .extern
// .shared array after the kernel's static variables) reached through
// generic addresses (cvta.shared): each thread writes its id there and
// reads its neighbour's after a barrier, into global memory through a
// generic store.
func TestDynamicSharedAndGenericAddresses(t *testing.T) {
	src := `.version 8.4
.target sm_90a
.address_size 64
.extern .shared .align 16 .b8 dyn[];
.visible .entry k(.param .u64 k_param_0)
{
	.reg .b32 %r<6>;
	.reg .b64 %rd<10>;
	.shared .align 4 .b8 pad[12];
	ld.param.u64 %rd1, [k_param_0];
	mov.u32 %r1, %tid.x;
	mov.u64 %rd2, dyn;
	cvta.shared.u64 %rd3, %rd2;
	mul.wide.u32 %rd4, %r1, 4;
	add.s64 %rd5, %rd3, %rd4;
	st.u32 [%rd5], %r1;
	bar.sync 0;
	add.s32 %r2, %r1, 1;
	and.b32 %r3, %r2, 63;
	mul.wide.u32 %rd6, %r3, 4;
	add.s64 %rd7, %rd3, %rd6;
	ld.u32 %r4, [%rd7];
	add.s64 %rd8, %rd1, %rd4;
	st.u32 [%rd8], %r4;
	st.shared.u32 [pad], %r4;
	ret;
}
`
	dev := emu.NewDevice(emu.Options{Sanitize: true, Seed: 3})
	if _, err := dev.LoadPTX(src); err != nil {
		t.Fatal(err)
	}
	out, err := dev.Alloc(64 * 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Run("k", emu.LaunchConfig{Grid: [3]uint32{1, 1, 1}, Block: [3]uint32{64, 1, 1}, DynShared: 256, Args: []uint64{out.Ptr}}); err == nil || !err.(*emu.Report).Has(emu.KindRace) {
		t.Fatalf("want a race on pad (every thread stores it): %v", err)
	}
	b := make([]byte, 64*4)
	if err := dev.Download(b, out); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 64; i++ {
		if got := binary.LittleEndian.Uint32(b[4*i:]); got != uint32((i+1)%64) {
			t.Fatalf("thread %d read %d, want %d", i, got, (i+1)%64)
		}
	}
	// Dynamic shared memory beyond what the launch gave is out of bounds.
	if _, err := dev.Run("k", emu.LaunchConfig{Grid: [3]uint32{1, 1, 1}, Block: [3]uint32{64, 1, 1}, DynShared: 128, Args: []uint64{out.Ptr}}); err == nil || !err.(*emu.Report).Has(emu.KindOutOfBounds) {
		t.Fatalf("want out-of-bounds with 128 bytes of dynamic shared memory: %v", err)
	}
}
