package emu_test

// Memory instructions (docs/ptx-isa-notes.md §1.2, §8).

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/deepc-dev/deepc/runtime/emu"
)

// runKernel loads src on a fresh sanitizing device and launches name once.
// It returns the device so that buffers can be read back.
func runKernel(t *testing.T, seed uint64, src, name string, grid, block [3]uint32, args func(dev *emu.Device) []uint64) (*emu.Device, error) {
	t.Helper()
	dev := isaDevice(seed)
	if _, err := dev.LoadPTX(src); err != nil {
		t.Fatalf("LoadPTX: %v\n%s", err, numbered(src))
	}
	a := args(dev)
	_, err := dev.Run(name, emu.LaunchConfig{Grid: grid, Block: block, Args: a})
	return dev, err
}

func numbered(src string) string {
	var b strings.Builder
	for i, l := range strings.Split(src, "\n") {
		fmt.Fprintf(&b, "%4d %s\n", i+1, l)
	}
	return b.String()
}

func le64(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[8*i:]) }
func le32(b []byte, i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }

// TestISAMemLoadExtend: loads of every width, into registers of equal or
// greater width, from global and shared memory (§1.2, §8.2: sN sign-extends,
// uN/bN/fN zero-extend; vector element i is at addr + i*size).
func TestISAMemLoadExtend(t *testing.T) {
	for _, space := range []string{"global", "shared"} {
		t.Run(space, func(t *testing.T) { memLoadExtend(t, space) })
	}
}

func memLoadExtend(t *testing.T, space string) {
	// Input bytes 0x80, 0x81, ... 0xBF (64 bytes).
	in := make([]byte, 64)
	for i := range in {
		in[i] = byte(0x80 + i)
	}
	type ld struct {
		inst string // with %A for the address register
		reg  string // register to store as the result
		st   string // st type
		want uint64
	}
	u16 := func(off int) uint64 { return uint64(binary.LittleEndian.Uint16(in[off:])) }
	u32 := func(off int) uint64 { return uint64(binary.LittleEndian.Uint32(in[off:])) }
	u64 := func(off int) uint64 { return binary.LittleEndian.Uint64(in[off:]) }
	loads := []ld{
		{"ld.SP.u8 %r1, [%A+1];", "%r1", "u32", 0x81},
		{"ld.SP.s8 %r1, [%A+1];", "%r1", "u32", 0xFFFFFF81},
		{"ld.SP.u8 %rd1, [%A+3];", "%rd1", "u64", 0x83},
		{"ld.SP.s8 %rd1, [%A+3];", "%rd1", "u64", 0xFFFFFFFFFFFFFF83},
		{"ld.SP.b8 %r1, [%A+5];", "%r1", "u32", 0x85},
		{"ld.SP.u16 %r1, [%A+2];", "%r1", "u32", u16(2)},
		{"ld.SP.s16 %r1, [%A+2];", "%r1", "u32", 0xFFFF0000 | u16(2)},
		{"ld.SP.s16 %rd1, [%A+2];", "%rd1", "u64", 0xFFFFFFFFFFFF0000 | u16(2)},
		{"ld.SP.u16 %h1, [%A+6];", "%h1", "u16", u16(6)},
		{"ld.SP.b16 %r1, [%A+6];", "%r1", "u32", u16(6)},
		{"ld.SP.u32 %r1, [%A+4];", "%r1", "u32", u32(4)},
		{"ld.SP.u32 %rd1, [%A+4];", "%rd1", "u64", u32(4)},
		{"ld.SP.s32 %rd1, [%A+4];", "%rd1", "u64", 0xFFFFFFFF00000000 | u32(4)},
		{"ld.SP.b32 %rd1, [%A+4];", "%rd1", "u64", u32(4)},
		{"ld.SP.f32 %f1, [%A+12];", "%f1", "f32", u32(12)},
		{"ld.SP.u64 %rd1, [%A+8];", "%rd1", "u64", u64(8)},
		{"ld.SP.f64 %fd1, [%A+16];", "%fd1", "f64", u64(16)},
	}
	var b strings.Builder
	b.WriteString(ptxHeader)
	b.WriteString(".visible .entry k(.param .u64 k_in, .param .u64 k_out)\n{\n")
	b.WriteString("\t.reg .b16 %h<8>;\n\t.reg .b32 %r<16>;\n\t.reg .b64 %rd<16>;\n\t.reg .f32 %f<8>;\n\t.reg .f64 %fd<4>;\n")
	b.WriteString("\t.shared .align 16 .b8 sm[64];\n")
	b.WriteString("\tld.param.u64 %rd10, [k_in];\n\tld.param.u64 %rd11, [k_out];\n")
	addr := "%rd10"
	if space == "shared" {
		// Copy the input to shared memory with 16-byte vector accesses.
		b.WriteString("\tmov.u64 %rd12, sm;\n")
		for off := 0; off < 64; off += 16 {
			fmt.Fprintf(&b, "\tld.global.v4.u32 {%%r4, %%r5, %%r6, %%r7}, [%%rd10+%d];\n", off)
			fmt.Fprintf(&b, "\tst.shared.v4.u32 [%%rd12+%d], {%%r4, %%r5, %%r6, %%r7};\n", off)
		}
		addr = "%rd12"
	}
	for i, l := range loads {
		inst := strings.ReplaceAll(strings.ReplaceAll(l.inst, "SP", space), "%A", addr)
		b.WriteString("\t" + inst + "\n")
		fmt.Fprintf(&b, "\tst.global.%s [%%rd11+%d], %s;\n", l.st, 8*i, l.reg)
	}
	// Vector loads: v2.u32 at +8, v4.u32 at +16, v2.u64 at +32, v4.f32 at +48, v2.f32 at +40.
	nv := len(loads)
	fmt.Fprintf(&b, "\tld.%s.v2.u32 {%%r1, %%r2}, [%s+8];\n", space, addr)
	fmt.Fprintf(&b, "\tst.global.v2.u32 [%%rd11+%d], {%%r1, %%r2};\n", 8*nv)
	fmt.Fprintf(&b, "\tld.%s.v4.u32 {%%r1, %%r2, %%r3, %%r4}, [%s+16];\n", space, addr)
	fmt.Fprintf(&b, "\tst.global.v4.u32 [%%rd11+%d], {%%r1, %%r2, %%r3, %%r4};\n", 8*nv+8)
	fmt.Fprintf(&b, "\tld.%s.v2.u64 {%%rd1, %%rd2}, [%s+32];\n", space, addr)
	fmt.Fprintf(&b, "\tst.global.v2.u64 [%%rd11+%d], {%%rd1, %%rd2};\n", 8*nv+24)
	fmt.Fprintf(&b, "\tld.%s.v4.f32 {%%f1, %%f2, %%f3, %%f4}, [%s+48];\n", space, addr)
	fmt.Fprintf(&b, "\tst.global.v4.f32 [%%rd11+%d], {%%f1, %%f2, %%f3, %%f4};\n", 8*nv+40)
	fmt.Fprintf(&b, "\tld.%s.v2.f32 {%%f1, %%f2}, [%s+40];\n", space, addr)
	fmt.Fprintf(&b, "\tst.global.v2.f32 [%%rd11+%d], {%%f1, %%f2};\n", 8*nv+56)
	b.WriteString("\tret;\n}\n")
	src := b.String()
	outSize := 8*nv + 64
	var outPtr uint64
	dev, err := runKernel(t, 1, src, "k", [3]uint32{1, 1, 1}, [3]uint32{1, 1, 1}, func(dev *emu.Device) []uint64 {
		ib := mustAlloc(t, dev, in)
		ob := mustAlloc(t, dev, make([]byte, outSize))
		outPtr = ob.Ptr
		return []uint64{ib.Ptr, ob.Ptr}
	})
	if err != nil {
		t.Fatalf("Run: %v (%s)", err, kinds(asReport(err)))
	}
	out := downloadAt(t, dev, outPtr, uint64(outSize))
	for i, l := range loads {
		if g := le64(out, i); g != l.want {
			t.Errorf("%s [§1.2/§8.2 narrow loads: sN sign-extends, uN/bN/fN zero-extend]: want %#x, got %#x", strings.ReplaceAll(l.inst, "SP", space), l.want, g)
		}
	}
	vec := out[8*nv:]
	check := func(name string, got, want []byte) {
		if string(got) != string(want) {
			t.Errorf("ld.%s.%s [§8.1 vector element i at addr + i*size]: want % x, got % x", space, name, want, got)
		}
	}
	check("v2.u32 [+8]", vec[0:8], in[8:16])
	check("v4.u32 [+16]", vec[8:24], in[16:32])
	check("v2.u64 [+32]", vec[24:40], in[32:48])
	check("v4.f32 [+48]", vec[40:56], in[48:64])
	check("v2.f32 [+40]", vec[56:64], in[40:48])
}

func downloadAt(t *testing.T, dev *emu.Device, ptr, size uint64) []byte {
	t.Helper()
	out := make([]byte, size)
	if err := dev.Download(out, device.Buffer{Ptr: ptr, Size: size}); err != nil {
		t.Fatalf("Download: %v", err)
	}
	return out
}

// TestISAMemStoreNarrow: a store writes exactly sizeof(type) bytes, taking the
// low bytes of a wider register (§8.2); vector stores put element i at +i*size.
func TestISAMemStoreNarrow(t *testing.T) {
	for _, space := range []string{"global", "shared"} {
		t.Run(space, func(t *testing.T) {
			src := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .b16 %h<4>;
	.reg .b32 %r<16>;
	.reg .b64 %rd<16>;
	.reg .f32 %f<8>;
	.shared .align 16 .b8 sm[64];
	ld.param.u64 %rd10, [k_out];
	mov.u64 %rd12, sm;
	mov.u32 %r1, 0x12345678;
	mov.u64 %rd1, 0x0102030405060708;
	mov.b16 %h1, 0xBEEF;
	mov.f32 %f1, 0f3F800000;
	mov.f32 %f2, 0fC0000000;
	mov.u32 %r2, 0xAABBCCDD;
	mov.u32 %r3, 0x11223344;
	mov.u32 %r4, 0x55667788;
	// fill 64 bytes with 0xEE first
	mov.u32 %r9, 0xEEEEEEEE;
	st.SP.v4.u32 [%A+0], {%r9, %r9, %r9, %r9};
	st.SP.v4.u32 [%A+16], {%r9, %r9, %r9, %r9};
	st.SP.v4.u32 [%A+32], {%r9, %r9, %r9, %r9};
	st.SP.v4.u32 [%A+48], {%r9, %r9, %r9, %r9};
	st.SP.u8 [%A+1], %r1;
	st.SP.u16 [%A+4], %r1;
	st.SP.b16 [%A+6], %h1;
	st.SP.u32 [%A+8], %rd1;
	st.SP.u64 [%A+16], %rd1;
	st.SP.v2.u32 [%A+24], {%r2, %r3};
	st.SP.v4.u32 [%A+32], {%r1, %r2, %r3, %r4};
	st.SP.v2.f32 [%A+48], {%f1, %f2};
	st.SP.u8 [%A+63], %rd1;
	// copy back out
	ld.SP.v4.u32 {%r5, %r6, %r7, %r8}, [%A+0];
	st.global.v4.u32 [%rd10+64], {%r5, %r6, %r7, %r8};
	ld.SP.v4.u32 {%r5, %r6, %r7, %r8}, [%A+16];
	st.global.v4.u32 [%rd10+80], {%r5, %r6, %r7, %r8};
	ld.SP.v4.u32 {%r5, %r6, %r7, %r8}, [%A+32];
	st.global.v4.u32 [%rd10+96], {%r5, %r6, %r7, %r8};
	ld.SP.v4.u32 {%r5, %r6, %r7, %r8}, [%A+48];
	st.global.v4.u32 [%rd10+112], {%r5, %r6, %r7, %r8};
	ret;
}
`
			addr := "%rd10"
			if space == "shared" {
				addr = "%rd12"
			}
			src = strings.ReplaceAll(strings.ReplaceAll(src, "SP", space), "%A", addr)
			var ptr uint64
			dev, err := runKernel(t, 1, src, "k", [3]uint32{1, 1, 1}, [3]uint32{1, 1, 1}, func(dev *emu.Device) []uint64 {
				ob := mustAlloc(t, dev, make([]byte, 128))
				ptr = ob.Ptr
				return []uint64{ob.Ptr}
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			out := downloadAt(t, dev, ptr, 128)[64:]
			want := make([]byte, 64)
			for i := range want {
				want[i] = 0xEE
			}
			want[1] = 0x78
			binary.LittleEndian.PutUint16(want[4:], 0x5678)
			binary.LittleEndian.PutUint16(want[6:], 0xBEEF)
			binary.LittleEndian.PutUint32(want[8:], 0x05060708)
			binary.LittleEndian.PutUint64(want[16:], 0x0102030405060708)
			binary.LittleEndian.PutUint32(want[24:], 0xAABBCCDD)
			binary.LittleEndian.PutUint32(want[28:], 0x11223344)
			binary.LittleEndian.PutUint32(want[32:], 0x12345678)
			binary.LittleEndian.PutUint32(want[36:], 0xAABBCCDD)
			binary.LittleEndian.PutUint32(want[40:], 0x11223344)
			binary.LittleEndian.PutUint32(want[44:], 0x55667788)
			binary.LittleEndian.PutUint32(want[48:], 0x3F800000)
			binary.LittleEndian.PutUint32(want[52:], 0xC0000000)
			want[63] = 0x08
			for i := 0; i < 64; i++ {
				if out[i] != want[i] {
					t.Errorf("st.%s [§8.2 stores write the low sizeof(type) bytes; vectors element i at +i*size]: byte %d want %#02x got %#02x\n want % x\n got  % x", space, i, want[i], out[i], want, out)
					break
				}
			}
		})
	}
}

// TestISAMemParam: ld.param reads each kernel parameter in its own size (§8.2).
func TestISAMemParam(t *testing.T) {
	src := ptxHeader + `.visible .entry k(.param .u64 k_out, .param .u32 k_a, .param .u64 k_b, .param .f32 k_c, .param .u16 k_d, .param .s32 k_e)
{
	.reg .b16 %h<4>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	.reg .f32 %f<4>;
	ld.param.u64 %rd1, [k_out];
	ld.param.u32 %r1, [k_a];
	ld.param.u64 %rd2, [k_b];
	ld.param.f32 %f1, [k_c];
	ld.param.u16 %h1, [k_d];
	ld.param.s32 %rd3, [k_e];
	st.global.u32 [%rd1], %r1;
	st.global.u64 [%rd1+8], %rd2;
	st.global.f32 [%rd1+16], %f1;
	st.global.u16 [%rd1+20], %h1;
	st.global.u64 [%rd1+24], %rd3;
	ret;
}
`
	var ptr uint64
	dev, err := runKernel(t, 1, src, "k", [3]uint32{1, 1, 1}, [3]uint32{1, 1, 1}, func(dev *emu.Device) []uint64 {
		ob := mustAlloc(t, dev, make([]byte, 32))
		ptr = ob.Ptr
		return []uint64{ob.Ptr, 0xDEADBEEF, 0x0123456789ABCDEF, uint64(math.Float32bits(-2.5)), 0xBEEF, 0xFFFFFFFE}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := downloadAt(t, dev, ptr, 32)
	if g := le32(out, 0); g != 0xDEADBEEF {
		t.Errorf("ld.param.u32: want 0xdeadbeef, got %#x", g)
	}
	if g := le64(out, 1); g != 0x0123456789ABCDEF {
		t.Errorf("ld.param.u64: want 0x0123456789abcdef, got %#x", g)
	}
	if g := le32(out, 4); g != math.Float32bits(-2.5) {
		t.Errorf("ld.param.f32: want -2.5, got %#x", g)
	}
	if g := binary.LittleEndian.Uint16(out[20:]); g != 0xBEEF {
		t.Errorf("ld.param.u16: want 0xbeef, got %#x", g)
	}
	if g := le64(out, 3); g != 0xFFFFFFFFFFFFFFFE {
		t.Errorf("ld.param.s32 into a 64-bit register [§1.2 sign-extends]: want -2, got %#x", g)
	}
}

// TestISAMemAtomAddF32: atom.add.f32 rounds to nearest even; on global memory
// it flushes subnormal inputs and results to sign-preserving zero, on shared
// memory it keeps them (§8.5, ISA §9.7.13.5).
func TestISAMemAtomAddF32(t *testing.T) {
	type ac struct {
		mem, b   float32
		wantG    uint32 // final memory value, global
		wantS    uint32 // final memory value, shared
		checkOld bool
	}
	sub := func(e int) float32 { return float32(math.Ldexp(1, e)) }
	cases := []ac{
		{1, sub(-24), 0x3F800000, 0x3F800000, true},                                             // tie -> even
		{1.5, 2.25, math.Float32bits(3.75), math.Float32bits(3.75), true},                       // plain
		{0, sub(-130), 0, math.Float32bits(sub(-130)), true},                                    // subnormal input
		{1.5 * sub(-126), -sub(-126), 0, math.Float32bits(sub(-127)), true},                     // normal inputs, subnormal result
		{-1.5 * sub(-126), sub(-126), 0x80000000, math.Float32bits(-sub(-127)), true},           // subnormal negative result -> -0
		{sub(-126), -sub(-127), math.Float32bits(sub(-126)), math.Float32bits(sub(-127)), true}, // subnormal addend flushed on global
		{sub(-100), sub(-149), math.Float32bits(sub(-100)), math.Float32bits(sub(-100)), true},
		{3, float32(math.Inf(-1)), 0xFF800000, 0xFF800000, true},
	}
	n := len(cases)
	src := ptxHeader + `.visible .entry k(.param .u64 k_mem, .param .u64 k_b, .param .u64 k_old, .param .u64 k_smem_out, .param .u64 k_sold, .param .u32 k_n)
{
	.reg .pred %p<2>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<16>;
	.reg .f32 %f<8>;
	.shared .align 4 .b8 sm[128];
	ld.param.u64 %rd1, [k_mem];
	ld.param.u64 %rd2, [k_b];
	ld.param.u64 %rd3, [k_old];
	ld.param.u64 %rd4, [k_smem_out];
	ld.param.u64 %rd5, [k_sold];
	ld.param.u32 %r2, [k_n];
	mov.u32 %r1, %tid.x;
	setp.ge.u32 %p1, %r1, %r2;
	@%p1 bra DONE;
	mul.wide.u32 %rd6, %r1, 4;
	add.s64 %rd7, %rd1, %rd6;
	add.s64 %rd8, %rd2, %rd6;
	add.s64 %rd9, %rd3, %rd6;
	add.s64 %rd10, %rd4, %rd6;
	add.s64 %rd11, %rd5, %rd6;
	mov.u64 %rd12, sm;
	add.s64 %rd12, %rd12, %rd6;
	ld.global.f32 %f1, [%rd8];
	// shared copy of the initial value
	ld.global.b32 %r3, [%rd7];
	st.shared.b32 [%rd12], %r3;
	atom.global.add.f32 %f2, [%rd7], %f1;
	st.global.f32 [%rd9], %f2;
	atom.shared.add.f32 %f3, [%rd12], %f1;
	st.global.f32 [%rd11], %f3;
	ld.shared.b32 %r4, [%rd12];
	st.global.b32 [%rd10], %r4;
DONE:
	ret;
}
`
	f32s := func(f func(c ac) float32) []byte {
		b := make([]byte, 4*n)
		for i, c := range cases {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f(c)))
		}
		return b
	}
	var mem, old, smo, sold uint64
	dev, err := runKernel(t, 1, src, "k", [3]uint32{1, 1, 1}, [3]uint32{32, 1, 1}, func(dev *emu.Device) []uint64 {
		m := mustAlloc(t, dev, f32s(func(c ac) float32 { return c.mem }))
		b := mustAlloc(t, dev, f32s(func(c ac) float32 { return c.b }))
		o := mustAlloc(t, dev, make([]byte, 4*n))
		s := mustAlloc(t, dev, make([]byte, 4*n))
		so := mustAlloc(t, dev, make([]byte, 4*n))
		mem, old, smo, sold = m.Ptr, o.Ptr, s.Ptr, so.Ptr
		return []uint64{m.Ptr, b.Ptr, o.Ptr, s.Ptr, so.Ptr, uint64(n)}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	gm := downloadAt(t, dev, mem, uint64(4*n))
	gold := downloadAt(t, dev, old, uint64(4*n))
	sm := downloadAt(t, dev, smo, uint64(4*n))
	so := downloadAt(t, dev, sold, uint64(4*n))
	for i, c := range cases {
		if g := le32(gm, i); g != c.wantG {
			t.Errorf("atom.global.add.f32 [§8.5 RNE; global flushes subnormal inputs/results to ±0] mem %g + %g: want %#x, got %#x (%g)", c.mem, c.b, c.wantG, g, math.Float32frombits(g))
		}
		if g := le32(sm, i); g != c.wantS {
			t.Errorf("atom.shared.add.f32 [§8.5 RNE; shared keeps subnormals] mem %g + %g: want %#x, got %#x (%g)", c.mem, c.b, c.wantS, g, math.Float32frombits(g))
		}
		if c.checkOld {
			if g := le32(gold, i); g != math.Float32bits(c.mem) && !(c.mem != 0 && math.Float32bits(c.mem)&0x7F800000 == 0) {
				t.Errorf("atom.global.add.f32 [§8.5 d = old value]: want %#x, got %#x", math.Float32bits(c.mem), g)
			}
			if g := le32(so, i); g != math.Float32bits(c.mem) {
				t.Errorf("atom.shared.add.f32 [§8.5 d = old value]: want %#x, got %#x", math.Float32bits(c.mem), g)
			}
		}
	}
}

// TestISAMemAtomSharedContention: 256 threads of 8 warps atom.shared.add.u32
// onto one word. The total is deterministic, and the old values returned must
// form one serialization of the adds (§8.5: atomically d = *a; *a += b).
func TestISAMemAtomSharedContention(t *testing.T) {
	src := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<2>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	.shared .align 4 .b32 acc;
	ld.param.u64 %rd1, [k_out];
	mov.u32 %r1, %tid.x;
	setp.ne.u32 %p1, %r1, 0;
	@%p1 bra SKIP;
	mov.u32 %r2, 0;
	st.shared.u32 [acc], %r2;
SKIP:
	bar.sync 0;
	add.u32 %r3, %r1, 1;
	atom.shared.add.u32 %r4, [acc], %r3;
	mul.wide.u32 %rd2, %r1, 4;
	add.s64 %rd3, %rd1, %rd2;
	st.global.u32 [%rd3+4], %r4;
	bar.sync 0;
	@%p1 bra DONE;
	ld.shared.u32 %r5, [acc];
	st.global.u32 [%rd1], %r5;
DONE:
	ret;
}
`
	const n = 256
	for seed := uint64(1); seed <= 3; seed++ {
		var ptr uint64
		dev, err := runKernel(t, seed, src, "k", [3]uint32{1, 1, 1}, [3]uint32{n, 1, 1}, func(dev *emu.Device) []uint64 {
			ob := mustAlloc(t, dev, make([]byte, 4*(n+1)))
			ptr = ob.Ptr
			return []uint64{ob.Ptr}
		})
		if err != nil {
			t.Fatalf("seed %d: Run: %v", seed, err)
		}
		out := downloadAt(t, dev, ptr, 4*(n+1))
		if g := le32(out, 0); g != n*(n+1)/2 {
			t.Errorf("seed %d: atom.shared.add.u32 total [§8.5 atomic add]: want %d, got %d", seed, n*(n+1)/2, g)
		}
		type pr struct{ old, add uint32 }
		ps := make([]pr, n)
		for i := 0; i < n; i++ {
			ps[i] = pr{le32(out, i+1), uint32(i + 1)}
		}
		sort.Slice(ps, func(a, b int) bool { return ps[a].old < ps[b].old })
		var run uint32
		for _, p := range ps {
			if p.old != run {
				t.Errorf("seed %d: atom.shared.add.u32 old values are not a serialization of the adds [§8.5 d = *a]: expected an old value %d, got %d", seed, run, p.old)
				break
			}
			run += p.add
		}
	}
}

// TestISAMemAtomGlobalOps: atom.global.{add,cas,exch,inc,dec,min,max} per §8.5,
// one thread per address; also atom.global.add.u32 contended from 4 CTAs.
func TestISAMemAtomGlobalOps(t *testing.T) {
	type op struct {
		inst   string // with {d} {a} {b} {c}
		mem    uint32
		b, c   uint32
		old    uint32
		final  uint32
		signed bool
	}
	ops := []op{
		{"atom.global.add.u32 %r5, [%rd5], %r6;", 7, 5, 0, 7, 12, false},
		{"atom.global.exch.b32 %r5, [%rd5], %r6;", 7, 5, 0, 7, 5, false},
		{"atom.global.cas.b32 %r5, [%rd5], %r6, %r7;", 7, 7, 9, 7, 9, false},
		{"atom.global.cas.b32 %r5, [%rd5], %r6, %r7;", 7, 8, 9, 7, 7, false},
		{"atom.global.inc.u32 %r5, [%rd5], %r6;", 5, 5, 0, 5, 0, false}, // r >= s -> 0
		{"atom.global.inc.u32 %r5, [%rd5], %r6;", 4, 5, 0, 4, 5, false},
		{"atom.global.dec.u32 %r5, [%rd5], %r6;", 0, 5, 0, 0, 5, false}, // r == 0 -> s
		{"atom.global.dec.u32 %r5, [%rd5], %r6;", 9, 5, 0, 9, 5, false}, // r > s -> s
		{"atom.global.dec.u32 %r5, [%rd5], %r6;", 3, 5, 0, 3, 2, false},
		{"atom.global.min.s32 %r5, [%rd5], %r6;", 3, 0xFFFFFFFF, 0, 3, 0xFFFFFFFF, true},
		{"atom.global.min.u32 %r5, [%rd5], %r6;", 3, 0xFFFFFFFF, 0, 3, 3, false},
		{"atom.global.max.s32 %r5, [%rd5], %r6;", 3, 0xFFFFFFFF, 0, 3, 3, true},
		{"atom.global.max.u32 %r5, [%rd5], %r6;", 3, 0xFFFFFFFF, 0, 3, 0xFFFFFFFF, false},
		{"atom.global.and.b32 %r5, [%rd5], %r6;", 0xF0F0, 0xFF00, 0, 0xF0F0, 0xF000, false},
		{"atom.global.or.b32 %r5, [%rd5], %r6;", 0xF0F0, 0xFF00, 0, 0xF0F0, 0xFFF0, false},
		{"atom.global.xor.b32 %r5, [%rd5], %r6;", 0xF0F0, 0xFF00, 0, 0xF0F0, 0x0FF0, false},
	}
	for _, o := range ops {
		src := ptxHeader + `.visible .entry k(.param .u64 k_mem, .param .u64 k_out, .param .u32 k_b, .param .u32 k_c)
{
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	ld.param.u64 %rd5, [k_mem];
	ld.param.u64 %rd6, [k_out];
	ld.param.u32 %r6, [k_b];
	ld.param.u32 %r7, [k_c];
	` + o.inst + `
	st.global.u32 [%rd6], %r5;
	ret;
}
`
		dev := isaDevice(1)
		if _, err := dev.LoadPTX(src); err != nil {
			if strings.Contains(o.inst, ".inc") || strings.Contains(o.inst, ".dec") {
				// Outside the brief's list: only logged.
				t.Logf("optional: %s not supported: %v", o.inst, err)
			} else {
				t.Errorf("%s: LoadPTX: %v", o.inst, err)
			}
			continue
		}
		mb := mustAlloc(t, dev, binary.LittleEndian.AppendUint32(nil, o.mem))
		ob := mustAlloc(t, dev, make([]byte, 4))
		if _, err := dev.Run("k", emu.LaunchConfig{Grid: [3]uint32{1, 1, 1}, Block: [3]uint32{1, 1, 1}, Args: []uint64{mb.Ptr, ob.Ptr, uint64(o.b), uint64(o.c)}}); err != nil {
			t.Errorf("%s: Run: %v", o.inst, err)
			continue
		}
		old := le32(mustDownload(t, dev, ob), 0)
		fin := le32(mustDownload(t, dev, mb), 0)
		if old != o.old || fin != o.final {
			t.Errorf("%s [§8.5 atom semantics] mem=%#x b=%#x c=%#x: want old %#x final %#x, got old %#x final %#x", o.inst, o.mem, o.b, o.c, o.old, o.final, old, fin)
		}
	}

	// Contended global add from 4 CTAs × 128 threads.
	src := ptxHeader + `.visible .entry k(.param .u64 k_mem)
{
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	ld.param.u64 %rd1, [k_mem];
	mov.u32 %r1, %tid.x;
	mov.u32 %r2, %ctaid.x;
	mad.lo.u32 %r3, %r2, 128, %r1;
	add.u32 %r3, %r3, 1;
	red.global.add.u32 [%rd1], %r3;
	ret;
}
`
	var ptr uint64
	dev, err := runKernel(t, 2, src, "k", [3]uint32{4, 1, 1}, [3]uint32{128, 1, 1}, func(dev *emu.Device) []uint64 {
		b := mustAlloc(t, dev, make([]byte, 4))
		ptr = b.Ptr
		return []uint64{b.Ptr}
	})
	if err != nil {
		t.Fatalf("red.global.add.u32: Run: %v", err)
	}
	if g := le32(downloadAt(t, dev, ptr, 4), 0); g != 512*513/2 {
		t.Errorf("red.global.add.u32 from 4 CTAs [§8.5 atomic add]: want %d, got %d", 512*513/2, g)
	}
}

// TestISAMemAddressForms: [var], [var+imm], [reg+imm] addresses (§8.1), and
// ld.global.nc behaving as a plain load on unmodified data (§8.3).
func TestISAMemAddressForms(t *testing.T) {
	src := ptxHeader + `.visible .entry k(.param .u64 k_in, .param .u64 k_out)
{
	.reg .b32 %r<16>;
	.reg .b64 %rd<16>;
	.reg .f32 %f<8>;
	.shared .align 16 .b8 sm[64];
	ld.param.u64 %rd1, [k_in];
	ld.param.u64 %rd2, [k_out];
	mov.u32 %r1, 0x11111111;
	mov.u32 %r2, 0x22222222;
	mov.u32 %r3, 0x33333333;
	st.shared.u32 [sm], %r1;
	st.shared.u32 [sm+8], %r2;
	mov.u64 %rd3, sm;
	add.s64 %rd4, %rd3, 16;
	st.shared.u32 [%rd4+4], %r3;
	ld.shared.u32 %r4, [%rd3];
	ld.shared.u32 %r5, [%rd3+8];
	ld.shared.u32 %r6, [sm+20];
	sub.s64 %rd5, %rd4, %rd3;
	st.global.u32 [%rd2], %r4;
	st.global.u32 [%rd2+4], %r5;
	st.global.u32 [%rd2+8], %r6;
	st.global.u64 [%rd2+16], %rd5;
	ld.global.nc.u32 %r7, [%rd1+4];
	st.global.u32 [%rd2+24], %r7;
	ld.global.nc.v4.f32 {%f1, %f2, %f3, %f4}, [%rd1+16];
	st.global.v4.f32 [%rd2+32], {%f1, %f2, %f3, %f4};
	ret;
}
`
	in := make([]byte, 32)
	for i := range in {
		in[i] = byte(i + 1)
	}
	var ptr uint64
	dev, err := runKernel(t, 1, src, "k", [3]uint32{1, 1, 1}, [3]uint32{1, 1, 1}, func(dev *emu.Device) []uint64 {
		ib := mustAlloc(t, dev, in)
		ob := mustAlloc(t, dev, make([]byte, 48))
		ptr = ob.Ptr
		return []uint64{ib.Ptr, ob.Ptr}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := downloadAt(t, dev, ptr, 48)
	if le32(out, 0) != 0x11111111 || le32(out, 1) != 0x22222222 || le32(out, 2) != 0x33333333 {
		t.Errorf("[§8.1 [var], [var+imm], [reg+imm] name the same shared bytes]: got %#x %#x %#x, want 0x11111111 0x22222222 0x33333333", le32(out, 0), le32(out, 1), le32(out, 2))
	}
	if g := le32(out, 6); g != binary.LittleEndian.Uint32(in[4:]) {
		t.Errorf("[§8.3 ld.global.nc is a plain load of unmodified data]: got %#x, want %#x", g, binary.LittleEndian.Uint32(in[4:]))
	}
	if string(out[32:48]) != string(in[16:32]) {
		t.Errorf("[§8.3 ld.global.nc.v4.f32]: got % x, want % x", out[32:48], in[16:32])
	}
}

// TestISAMemMovVarPlusImm: "mov.type d, avar+imm; // get address of variable
// with offset" (ISA §9.7.9.3; notes §5).
func TestISAMemMovVarPlusImm(t *testing.T) {
	src := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .b32 %r<4>;
	.reg .b64 %rd<8>;
	.shared .align 16 .b8 sm[64];
	ld.param.u64 %rd1, [k_out];
	mov.u64 %rd3, sm;
	mov.u64 %rd4, sm+16;
	sub.s64 %rd5, %rd4, %rd3;
	mov.u32 %r1, 0x5A5A5A5A;
	st.shared.u32 [%rd4], %r1;
	ld.shared.u32 %r2, [sm+16];
	st.global.u64 [%rd1], %rd5;
	st.global.u32 [%rd1+8], %r2;
	ret;
}
`
	dev := isaDevice(1)
	if _, err := dev.LoadPTX(src); err != nil {
		t.Fatalf("mov.u64 d, sm+16 [§5 / ISA §9.7.9.3 mov d, avar+imm]: LoadPTX rejected it: %v", err)
	}
	ob := mustAlloc(t, dev, make([]byte, 16))
	if _, err := dev.Run("k", emu.LaunchConfig{Grid: [3]uint32{1, 1, 1}, Block: [3]uint32{1, 1, 1}, Args: []uint64{ob.Ptr}}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := mustDownload(t, dev, ob)
	if g := le64(out, 0); g != 16 {
		t.Errorf("[§5 mov d, var+imm = &var + imm]: (sm+16) - sm = %d, want 16", g)
	}
	if g := le32(out, 2); g != 0x5A5A5A5A {
		t.Errorf("[§5 mov d, var+imm addresses the same bytes as [var+imm]]: got %#x", g)
	}
}
