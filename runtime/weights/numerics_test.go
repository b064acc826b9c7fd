package weights

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepc-dev/deepc/runtime"
)

func TestBF16Rounding(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81}, // above the tie
		{0x7f7fffff, 0x7f80}, // max float32 overflows to inf
		{0xff800000, 0xff80}, // -inf
		{0x80000000, 0x8000}, // -0
		{0x00000001, 0x0000}, // tiny subnormal to 0
	}
	for _, c := range cases {
		if got := bf16Bits(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("bf16Bits(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if v := bf16Value(bf16Bits(float32(math.NaN()))); !math.IsNaN(float64(v)) {
		t.Errorf("NaN rounds to %v", v)
	}
	// Signalling NaN whose payload sits in the low bits stays NaN.
	if v := bf16Value(bf16Bits(math.Float32frombits(0x7f800001))); !math.IsNaN(float64(v)) {
		t.Errorf("low-payload NaN rounds to %v", v)
	}
}

// nearest checks that got is a representable value nearest to x among
// values, ties going to even codes.
func checkNearest(t *testing.T, what string, x float32, got float32, values []float32, even func(float32) bool) {
	t.Helper()
	best := math.Inf(1)
	for _, v := range values {
		best = math.Min(best, math.Abs(float64(v)-float64(x)))
	}
	d := math.Abs(float64(got) - float64(x))
	if d != best {
		t.Fatalf("%s(%g) = %g at distance %g; nearest is at %g", what, x, got, d, best)
	}
	// A tie: both neighbours at the same distance; the even one wins.
	n := 0
	for _, v := range values {
		if math.Abs(float64(v)-float64(x)) == best && v != got {
			n++
		}
	}
	if n > 0 && !even(got) && !(got == 0) {
		t.Fatalf("%s(%g) = %g: a tie not broken to even", what, x, got)
	}
}

func TestE4M3(t *testing.T) {
	var finite []float32
	for b := range 256 {
		v := e4m3Value(uint8(b))
		if math.IsNaN(float64(v)) {
			if b&0x7f != 0x7f {
				t.Fatalf("code %#02x decodes to NaN", b)
			}
			continue
		}
		finite = append(finite, v)
		// Every code round trips (±0 included).
		if got := e4m3Bits(v); got != uint8(b) {
			t.Errorf("e4m3Bits(e4m3Value(%#02x) = %g) = %#02x", b, v, got)
		}
	}
	if e4m3Value(0x7e) != 448 || e4m3Value(0x01) != 1.0/512 || e4m3Value(0x08) != 1.0/64 {
		t.Errorf("max %g, min subnormal %g, min normal %g", e4m3Value(0x7e), e4m3Value(0x01), e4m3Value(0x08))
	}
	for _, x := range []float32{449, 464, 1e9, float32(math.Inf(1))} {
		if e4m3Bits(x) != 0x7e || e4m3Bits(-x) != 0xfe {
			t.Errorf("%g does not saturate: %#02x %#02x", x, e4m3Bits(x), e4m3Bits(-x))
		}
	}
	if !math.IsNaN(float64(roundE4M3(float32(math.NaN())))) {
		t.Error("NaN does not stay NaN")
	}
	even := func(v float32) bool { return e4m3Bits(v)&1 == 0 }
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		x := float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(24)-14)))
		if math.Abs(float64(x)) >= 448 {
			continue
		}
		checkNearest(t, "roundE4M3", x, roundE4M3(x), finite, even)
	}
	// Exact ties between neighbours: 1 + 1/16 lies between 1 and 1.125.
	if roundE4M3(1+1.0/16) != 1 || roundE4M3(1.125+1.0/16) != 1.25 {
		t.Errorf("ties: %g %g", roundE4M3(1+1.0/16), roundE4M3(1.125+1.0/16))
	}
}

func TestF16(t *testing.T) {
	var finite []float32
	for b := range 1 << 16 {
		v := f16Value(uint16(b))
		if math.IsNaN(float64(v)) {
			continue
		}
		if got := f16Bits(v); got != uint16(b) {
			t.Fatalf("f16Bits(f16Value(%#04x) = %g) = %#04x", b, v, got)
		}
		if !math.IsInf(float64(v), 0) {
			finite = append(finite, v)
		}
	}
	if f16Value(0x7bff) != 65504 || f16Value(0x0001) != float32(math.Ldexp(1, -24)) {
		t.Errorf("max %g, min subnormal %g", f16Value(0x7bff), f16Value(0x0001))
	}
	if !math.IsInf(float64(roundF16(65520)), 1) || roundF16(65519) != 65504 {
		t.Errorf("overflow: %g %g", roundF16(65520), roundF16(65519))
	}
	// Spot-check nearest rounding against the value list near some
	// magnitudes (the full list is too long to scan for every sample).
	even := func(v float32) bool { return f16Bits(v)&1 == 0 }
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		x := float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(30)-20)))
		got := roundF16(x)
		var near []float32
		b := f16Bits(got)
		for d := -2; d <= 2; d++ {
			if v := f16Value(uint16(int(b) + d)); !math.IsNaN(float64(v)) && (v >= 0) == (got >= 0) {
				near = append(near, v)
			}
		}
		checkNearest(t, "roundF16", x, got, near, even)
	}
}

// e4m3Ref is a plain float64 statement of e4m3 rounding: ties to even,
// saturating.
func e4m3Ref(f float32) float32 {
	x := math.Abs(float64(f))
	if math.IsNaN(x) {
		return f
	}
	var q float64
	switch {
	case x >= 448:
		q = 448
	case x < 0x1p-6:
		q = math.RoundToEven(x*512) / 512
	default:
		frac, e := math.Frexp(x) // x = frac·2^e, frac in [0.5, 1)
		q = math.Ldexp(math.RoundToEven(frac*16), e-4)
		q = math.Min(q, 448)
	}
	return float32(math.Copysign(q, float64(f)))
}

func TestE4M3Sweep(t *testing.T) {
	for b := uint32(0); b < 0x44000000; b += 997 {
		for _, s := range []uint32{0, 0x80000000} {
			x := math.Float32frombits(b | s)
			if got, want := roundE4M3(x), e4m3Ref(x); got != want {
				t.Fatalf("roundE4M3(%g) = %g, want %g", x, got, want)
			}
		}
	}
}

// TestAgreesWithRuntime checks the fast codecs against runtime's.
func TestAgreesWithRuntime(t *testing.T) {
	same := func(a, b float32) bool {
		return a == b && math.Signbit(float64(a)) == math.Signbit(float64(b)) || a != a && b != b
	}
	for h := range 1 << 16 {
		if a, b := f16Value(uint16(h)), runtime.F16BitsToF32(uint16(h)); !same(a, b) {
			t.Fatalf("f16 %#04x: %g vs runtime %g", h, a, b)
		}
		if a, b := bf16Value(uint16(h)), runtime.BF16BitsToF32(uint16(h)); !same(a, b) {
			t.Fatalf("bf16 %#04x: %g vs runtime %g", h, a, b)
		}
	}
	for h := range 256 {
		if a, b := e4m3Value(uint8(h)), runtime.E4M3BitsToF32(uint8(h)); !same(a, b) {
			t.Fatalf("e4m3 %#02x: %g vs runtime %g", h, a, b)
		}
	}
	check := func(x float32) {
		if a, b := f16Bits(x), runtime.F32ToF16Bits(x); a != b && !(x != x) {
			t.Fatalf("f16Bits(%g) = %#04x, runtime %#04x", x, a, b)
		}
		if a, b := bf16Bits(x), runtime.F32ToBF16Bits(x); a != b {
			t.Fatalf("bf16Bits(%g) = %#04x, runtime %#04x", x, a, b)
		}
		if a, b := e4m3Bits(x), runtime.F32ToE4M3Bits(x); a != b {
			t.Fatalf("e4m3Bits(%g) = %#02x, runtime %#02x", x, a, b)
		}
	}
	for b := uint32(0); b < 0x80000000; b += 4099 {
		check(math.Float32frombits(b))
		check(math.Float32frombits(b | 0x80000000))
	}
	for _, x := range []float32{0, 448, 464, 65504, 65520, float32(math.Inf(1)), float32(math.Inf(-1))} {
		check(x)
		check(-x)
	}
}
