package emu_test

// Hopper asynchronous machinery, part: cp.async.bulk.tensor and tensor maps (docs/ptx-isa-notes.md §11.2, §11.7), proxy fences (§11.8).
// Expected values come from the notes' rules, never from the emulator's code.

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

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
