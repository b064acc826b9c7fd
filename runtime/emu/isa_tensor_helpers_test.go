package emu_test

// Hopper asynchronous machinery, part: helpers of the tests of cp.async.bulk.tensor and tensor maps (docs/ptx-isa-notes.md §11.2, §11.7), proxy fences (§11.8).
// Expected values come from the notes' rules, never from the emulator's code.

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

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
