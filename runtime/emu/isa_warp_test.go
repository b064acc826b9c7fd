package emu_test

// Warp-level instructions and barriers (docs/ptx-isa-notes.md §9).

import (
	"fmt"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

// shflRef is the ISA pseudocode of §9.1 for one lane (all lanes active and in
// membermask): it returns the source lane and the predicate.
func shflRef(mode string, lane int, b, c uint32) (int, bool) {
	bval := int(b & 31)
	cval := int(c & 31)
	segmask := int((c >> 8) & 31)
	maxLane := (lane & segmask) | (cval &^ segmask)
	minLane := lane & segmask
	var j int
	var p bool
	switch mode {
	case "up":
		j = lane - bval
		p = j >= maxLane
	case "down":
		j = lane + bval
		p = j <= maxLane
	case "bfly":
		j = lane ^ bval
		p = j <= maxLane
	case "idx":
		j = minLane | (bval &^ segmask)
		p = j <= maxLane
	}
	if !p {
		j = lane
	}
	return j, p
}

func TestISAWarpShfl(t *testing.T) {
	bs := []uint32{0, 1, 2, 5, 16, 31, 33, 0xFFFFFFE3}
	cs := []uint32{0x1F, 0, 0x101F, 0x181F, 0x1C1F, 0x1800, 0x1000, 0x0007, 0x1F00, 0x0A15, 0xFFFF_E01F}
	for _, mode := range []string{"up", "down", "bfly", "idx"} {
		type combo struct{ b, c uint32 }
		var combos []combo
		for _, b := range bs {
			for _, c := range cs {
				combos = append(combos, combo{b, c})
			}
		}
		// One warp per (b, c); a = 1000*warp + lane so sources are identifiable.
		for start := 0; start < len(combos); start += 32 {
			end := min(start+32, len(combos))
			var rows [][]uint64
			for w := start; w < end; w++ {
				for l := 0; l < 32; l++ {
					rows = append(rows, []uint64{uint64(1000*(w-start) + l), uint64(combos[w].b), uint64(combos[w].c)})
				}
			}
			spec := opSpec{inst: "shfl.sync." + mode + ".b32 {d}|{q}, {a}, {b}, {c}, 0xffffffff;", dst: "b32", dst2: "pred", srcs: []string{"b32", "u32", "u32"}}
			got := runOp(t, spec, rows)
			if got == nil {
				return
			}
			bad := 0
			for i, r := range rows {
				w, lane := i/32, i%32
				j, p := shflRef(mode, lane, uint32(r[1]), uint32(r[2]))
				wantD := uint64(1000*w + j)
				wantP := uint64(0)
				if p {
					wantP = 1
				}
				if got[i][0] != wantD || got[i][1] != wantP {
					bad++
					if bad <= 10 {
						t.Errorf("shfl.sync.%s b=%#x c=%#x lane %d [§9.1 pseudocode: clamp c[4:0], segmask c[12:8]; out of range keeps own value, p=false]: want d=lane %d's value (%d) p=%d, got d=%d p=%d",
							mode, r[1], r[2], lane, j, wantD, wantP, got[i][0], got[i][1])
					}
				}
			}
		}
	}
	// Per-lane b (idx from a register that differs per lane), and immediates.
	var rows [][]uint64
	for l := 0; l < 32; l++ {
		rows = append(rows, []uint64{uint64(500 + l), uint64((l * 7) % 32), 0x1F})
	}
	got := runOp(t, opSpec{inst: "shfl.sync.idx.b32 {d}|{q}, {a}, {b}, {c}, 0xffffffff;", dst: "b32", dst2: "pred", srcs: []string{"b32", "u32", "u32"}}, rows)
	for l := 0; got != nil && l < 32; l++ {
		if want := uint64(500 + (l*7)%32); got[l][0] != want || got[l][1] != 1 {
			t.Errorf("shfl.sync.idx per-lane b, lane %d [§9.1]: want %d p=1, got %d p=%d", l, want, got[l][0], got[l][1])
		}
	}
	// The notes' test list, with immediate b and c.
	imm := []struct {
		inst  string
		lane  int
		wantD int
		wantP uint64
	}{
		{"shfl.sync.bfly.b32 {d}|{q}, {a}, 1, 0x1f, 0xffffffff;", 5, 4, 1},
		{"shfl.sync.down.b32 {d}|{q}, {a}, 1, 0x1f, 0xffffffff;", 31, 31, 0},
		{"shfl.sync.up.b32 {d}|{q}, {a}, 1, 0, 0xffffffff;", 0, 0, 0},
		{"shfl.sync.up.b32 {d}|{q}, {a}, 1, 0, 0xffffffff;", 7, 6, 1},
		{"shfl.sync.down.b32 {d}|{q}, {a}, 1, 0x101f, 0xffffffff;", 15, 15, 0},
		{"shfl.sync.down.b32 {d}|{q}, {a}, 1, 0x101f, 0xffffffff;", 16, 17, 1},
		{"shfl.sync.idx.b32 {d}|{q}, {a}, 3, 0x1f, 0xffffffff;", 20, 3, 1},
	}
	for _, c := range imm {
		var rows [][]uint64
		for l := 0; l < 32; l++ {
			rows = append(rows, []uint64{uint64(100 + l)})
		}
		got := runOp(t, opSpec{inst: c.inst, dst: "b32", dst2: "pred", srcs: []string{"b32"}}, rows)
		if got == nil {
			continue
		}
		if got[c.lane][0] != uint64(100+c.wantD) || got[c.lane][1] != c.wantP {
			t.Errorf("%s lane %d [§9.1 notes' tests]: want lane %d's value p=%d, got %d p=%d", c.inst, c.lane, c.wantD, c.wantP, got[c.lane][0], got[c.lane][1])
		}
	}
}

func TestISAWarpVote(t *testing.T) {
	patterns := []func(l int) bool{
		func(l int) bool { return true },
		func(l int) bool { return false },
		func(l int) bool { return l == 17 },
		func(l int) bool { return l != 3 },
		func(l int) bool { return l%3 == 0 },
		func(l int) bool { return l >= 16 },
	}
	var rows [][]uint64
	for _, p := range patterns {
		for l := 0; l < 32; l++ {
			v := uint64(0)
			if p(l) {
				v = 1
			}
			rows = append(rows, []uint64{v})
		}
	}
	for _, neg := range []bool{false, true} {
		a := "{a}"
		if neg {
			a = "!{a}"
		}
		all := runOp(t, opSpec{inst: "vote.sync.all.pred {d}, " + a + ", 0xffffffff;", dst: "pred", srcs: []string{"pred"}}, rows)
		any := runOp(t, opSpec{inst: "vote.sync.any.pred {d}, " + a + ", 0xffffffff;", dst: "pred", srcs: []string{"pred"}}, rows)
		bal := runOp(t, opSpec{inst: "vote.sync.ballot.b32 {d}, " + a + ", 0xffffffff;", dst: "b32", srcs: []string{"pred"}}, rows)
		if all == nil || any == nil || bal == nil {
			return
		}
		for w, p := range patterns {
			var ballot uint64
			allT, anyT := true, false
			for l := 0; l < 32; l++ {
				v := p(l) != neg
				if v {
					ballot |= 1 << uint(l)
					anyT = true
				} else {
					allT = false
				}
			}
			b2u := func(b bool) uint64 {
				if b {
					return 1
				}
				return 0
			}
			for l := 0; l < 32; l++ {
				i := 32*w + l
				if all[i][0] != b2u(allT) {
					t.Errorf("vote.sync.all (negated=%v) pattern %d lane %d [§9.2]: want %d, got %d", neg, w, l, b2u(allT), all[i][0])
				}
				if any[i][0] != b2u(anyT) {
					t.Errorf("vote.sync.any (negated=%v) pattern %d lane %d [§9.2]: want %d, got %d", neg, w, l, b2u(anyT), any[i][0])
				}
				if bal[i][0] != ballot {
					t.Errorf("vote.sync.ballot (negated=%v) pattern %d lane %d [§9.2 bit i = lane i's predicate]: want %#x, got %#x", neg, w, l, ballot, bal[i][0])
				}
			}
		}
	}

	// Partial membermask: only lanes 0..15 execute, with membermask 0xffff;
	// lanes outside the mask contribute 0 to the ballot (§9.2).
	src := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	ld.param.u64 %rd1, [k_out];
	mov.u32 %r1, %laneid;
	setp.ge.u32 %p1, %r1, 16;
	@%p1 bra DONE;
	and.b32 %r2, %r1, 1;
	setp.eq.u32 %p2, %r2, 0;
	vote.sync.ballot.b32 %r3, %p2, 0x0000ffff;
	mul.wide.u32 %rd2, %r1, 4;
	add.s64 %rd3, %rd1, %rd2;
	st.global.u32 [%rd3], %r3;
DONE:
	ret;
}
`
	var ptr uint64
	dev, err := runKernel(t, 1, src, "k", [3]uint32{1, 1, 1}, [3]uint32{32, 1, 1}, func(dev *emu.Device) []uint64 {
		b := mustAlloc(t, dev, make([]byte, 128))
		ptr = b.Ptr
		return []uint64{b.Ptr}
	})
	if err != nil {
		t.Fatalf("vote partial mask: Run: %v", err)
	}
	out := downloadAt(t, dev, ptr, 128)
	for l := 0; l < 16; l++ {
		if g := le32(out, l); g != 0x5555 {
			t.Errorf("vote.sync.ballot with membermask 0xffff, lane %d [§9.2 threads not in membermask contribute 0]: want 0x5555, got %#x", l, g)
		}
	}
}

// TestISAWarpBarProducerConsumer: warp 0 writes shared memory, bar.sync, warp 1
// reads it (§9.5: a barrier orders the participants' memory accesses). Several
// rounds reuse the barrier; several seeds vary the warp interleaving.
func TestISAWarpBarProducerConsumer(t *testing.T) {
	const rounds = 4
	src := ptxHeader + `.visible .entry k(.param .u64 k_out)
{
	.reg .pred %p<4>;
	.reg .b32 %r<16>;
	.reg .b64 %rd<16>;
	.shared .align 4 .b8 buf[1024];
	ld.param.u64 %rd1, [k_out];
	mov.u32 %r1, %tid.x;
	and.b32 %r2, %r1, 31;          // lane
	shr.u32 %r3, %r1, 5;           // warp
	setp.eq.u32 %p1, %r3, 0;
	mov.u64 %rd2, buf;
	mov.u32 %r4, 0;                // round
LOOP:
	@!%p1 bra CONSUME;
	// producer: buf[i] = round*1000 + i for i = lane + 32k, k < 8
	mov.u32 %r5, 0;
PLOOP:
	shl.b32 %r6, %r5, 5;
	add.u32 %r6, %r6, %r2;          // i
	mad.lo.u32 %r7, %r4, 1000, %r6;
	mul.wide.u32 %rd3, %r6, 4;
	add.s64 %rd4, %rd2, %rd3;
	st.shared.u32 [%rd4], %r7;
	add.u32 %r5, %r5, 1;
	setp.lt.u32 %p2, %r5, 8;
	@%p2 bra PLOOP;
CONSUME:
	bar.sync 0;
	@%p1 bra NEXT;
	// consumer: reads in reverse, i = 255 - (lane + 32k)
	mov.u32 %r5, 0;
CLOOP:
	shl.b32 %r6, %r5, 5;
	add.u32 %r6, %r6, %r2;
	sub.u32 %r6, 255, %r6;
	mul.wide.u32 %rd3, %r6, 4;
	add.s64 %rd4, %rd2, %rd3;
	ld.shared.u32 %r7, [%rd4];
	mad.lo.u32 %r8, %r4, 256, %r6;
	mul.wide.u32 %rd5, %r8, 4;
	add.s64 %rd6, %rd1, %rd5;
	st.global.u32 [%rd6], %r7;
	add.u32 %r5, %r5, 1;
	setp.lt.u32 %p2, %r5, 8;
	@%p2 bra CLOOP;
NEXT:
	bar.sync 0;
	add.u32 %r4, %r4, 1;
	setp.lt.u32 %p3, %r4, ` + fmt.Sprint(rounds) + `;
	@%p3 bra LOOP;
	ret;
}
`
	for seed := uint64(1); seed <= 6; seed++ {
		var ptr uint64
		dev, err := runKernel(t, seed, src, "k", [3]uint32{1, 1, 1}, [3]uint32{64, 1, 1}, func(dev *emu.Device) []uint64 {
			b := mustAlloc(t, dev, make([]byte, 4*256*rounds))
			ptr = b.Ptr
			return []uint64{b.Ptr}
		})
		if err != nil {
			t.Errorf("seed %d: bar.sync producer/consumer [§9.5 barrier orders shared accesses]: unexpected report: %v", seed, err)
			continue
		}
		out := downloadAt(t, dev, ptr, 4*256*rounds)
		bad := 0
		for r := 0; r < rounds; r++ {
			for i := 0; i < 256; i++ {
				if g := le32(out, r*256+i); g != uint32(r*1000+i) && bad < 5 {
					bad++
					t.Errorf("seed %d round %d: consumer read buf[%d] = %d, want %d [§9.5 writes before bar.sync are visible after it]", seed, r, i, g, r*1000+i)
				}
			}
		}
	}
}
