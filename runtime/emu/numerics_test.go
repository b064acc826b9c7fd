package emu

import (
	"github.com/deepc-dev/deepc/internal/testseed"
	"math"
	"math/rand/v2"
	"testing"
)

// The integer encoder of the cvt hot path equals the f64 reference
// encoder for every format, on every f32 exponent, the boundaries of each
// format (ties, overflow, subnormals) and random values.
func TestFromF32MatchesEncode(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	var inputs []uint32
	for e := uint32(0); e < 256; e++ {
		for _, m := range []uint32{0, 1, 0x7fffff, 0x400000, 0x3fffff, 0x200000, 0x100000, 0x80000, 0x8000, 0x7fff, 0x10000} {
			inputs = append(inputs, e<<23|m, 1<<31|e<<23|m)
		}
	}
	for _, f := range []smallFloat{fmtE4M3, fmtE5M2, fmtF16, fmtBF16} {
		for b := uint32(0); b < 1<<(f.exp+f.man+1); b++ {
			v := f.decode(b)
			if v != v {
				continue
			}
			// The value itself, its midpoints with neighbours and a hair off them.
			x := float32(v)
			for _, y := range []float32{x, math.Nextafter32(x, float32(math.Inf(1))), math.Nextafter32(x, float32(math.Inf(-1)))} {
				inputs = append(inputs, math.Float32bits(y))
			}
			n := float32(f.decode(b + 1))
			if n == n {
				mid := (x + n) / 2
				inputs = append(inputs, math.Float32bits(mid), math.Float32bits(math.Nextafter32(mid, x)), math.Float32bits(math.Nextafter32(mid, n)))
			}
		}
	}
	for i := 0; i < 200000; i++ {
		inputs = append(inputs, rng.Uint32())
	}
	for _, f := range []smallFloat{fmtE4M3, fmtE5M2, fmtF16, fmtBF16} {
		for _, sat := range []bool{false, true} {
			bad := 0
			for _, b := range inputs {
				want := f.encode(float64(math.Float32frombits(b)), sat)
				if got := f.fromF32(b, sat); got != want && bad < 5 {
					bad++
					t.Errorf("format e%dm%d satfinite=%v: %#08x (%g): fromF32 %#x, encode %#x", f.exp, f.man, sat, b, math.Float32frombits(b), got, want)
				}
			}
		}
	}
}

// The decoding tables hold what decode computes.
func TestDecodeTables(t *testing.T) {
	for i := range 256 {
		if a, b := e4m3Values[i], fmtE4M3.decode(uint32(i)); a != b && !(a != a && b != b) {
			t.Fatalf("e4m3 %#x: %g vs %g", i, a, b)
		}
	}
	for i := range 1 << 16 {
		if a, b := float64(f16Values[i]), fmtF16.decode(uint32(i)); a != b && !(a != a && b != b) {
			t.Fatalf("f16 %#x: %g vs %g", i, a, b)
		}
	}
}

func testSeed(t *testing.T) uint64 { return testseed.Seed(t) }
