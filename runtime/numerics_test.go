package runtime

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/deepc-dev/deepc/internal/testseed"
	"github.com/deepc-dev/deepc/ir"
)

// refFormat is an independent model of a narrow float format for the tests:
// the sorted list of its non-negative finite values, each with its code.
// Rounding is a search for the nearest value (ties: the even code).
type refFormat struct {
	name   string
	vals   []float64 // ascending, non-negative finite values
	codes  []uint32
	sign   uint32 // sign bit
	sat    bool   // overflow saturates (else: inf)
	max    float64
	decode func(uint32) float32
	encode func(float32) uint32
	round  func(float32) float32
}

// newRefFormat enumerates the format by decoding every code with the field
// layout given here, independently of numerics.go.
func newRefFormat(name string, bits, mant, bias int, ieee bool, sat bool) *refFormat {
	r := &refFormat{name: name, sign: 1 << (bits - 1), sat: sat}
	emax := 1<<(bits-1-mant) - 1
	for c := uint32(0); c < 1<<(bits-1); c++ {
		e := int(c >> mant)
		m := float64(c & (1<<mant - 1))
		if ieee && e == emax {
			continue // inf and NaN
		}
		if !ieee && e == emax && int(m) == 1<<mant-1 {
			continue // e4m3fn NaN
		}
		var v float64
		if e == 0 {
			v = m * math.Ldexp(1, 1-bias-mant)
		} else {
			v = (1 + m/math.Ldexp(1, mant)) * math.Ldexp(1, e-bias)
		}
		r.vals = append(r.vals, v)
		r.codes = append(r.codes, c)
	}
	r.max = r.vals[len(r.vals)-1]
	return r
}

// want returns the expected rounding of x (finite or inf; not NaN) as a value.
func (r *refFormat) want(x float64) float64 {
	a := math.Abs(x)
	var v float64
	i, _ := slices.BinarySearch(r.vals, a)
	switch {
	case i == len(r.vals):
		// Above max: the next value up would be max + ulp(max) in an
		// unbounded exponent range; round there first.
		ulp := r.max - r.vals[len(r.vals)-2]
		if !r.sat && a < r.max+ulp/2 || r.sat {
			v = r.max
		} else if a == r.max+ulp/2 && r.codes[len(r.codes)-1]&1 == 0 {
			v = r.max
		} else {
			v = math.Inf(1)
		}
	case r.vals[i] == a:
		v = a
	default:
		lo, hi := r.vals[i-1], r.vals[i]
		switch {
		case a-lo < hi-a:
			v = lo
		case a-lo > hi-a:
			v = hi
		case r.codes[i-1]&1 == 0:
			v = lo
		default:
			v = hi
		}
	}
	return math.Copysign(v, x)
}

var (
	refE4M3 = newRefFormat("e4m3", 8, 3, 7, false, true)
	refE5M2 = newRefFormat("e5m2", 8, 2, 15, true, false)
	refF16  = newRefFormat("f16", 16, 10, 15, true, false)
	refBF16 = newRefFormat("bf16", 16, 7, 127, true, false)
)

func init() {
	refE4M3.decode = func(c uint32) float32 { return E4M3BitsToF32(uint8(c)) }
	refE4M3.encode = func(f float32) uint32 { return uint32(F32ToE4M3Bits(f)) }
	refE4M3.round = RoundE4M3
	refE5M2.decode = func(c uint32) float32 { return E5M2BitsToF32(uint8(c)) }
	refE5M2.encode = func(f float32) uint32 { return uint32(F32ToE5M2Bits(f)) }
	refE5M2.round = RoundE5M2
	refF16.decode = func(c uint32) float32 { return F16BitsToF32(uint16(c)) }
	refF16.encode = func(f float32) uint32 { return uint32(F32ToF16Bits(f)) }
	refF16.round = RoundF16
	refBF16.decode = func(c uint32) float32 { return BF16BitsToF32(uint16(c)) }
	refBF16.encode = func(f float32) uint32 { return uint32(F32ToBF16Bits(f)) }
	refBF16.round = RoundBF16
}

var refFormats = []*refFormat{refE4M3, refE5M2, refF16, refBF16}

func same(a, b float64) bool {
	return a == b && math.Signbit(a) == math.Signbit(b) || math.IsNaN(a) && math.IsNaN(b)
}

// checkRound compares one input against the reference.
func checkRound(t *testing.T, r *refFormat, x float32) {
	t.Helper()
	got := r.round(x)
	if math.IsNaN(float64(x)) {
		if !math.IsNaN(float64(got)) {
			t.Errorf("%s: round(NaN) = %v", r.name, got)
		}
		return
	}
	if w := r.want(float64(x)); !same(float64(got), w) {
		t.Errorf("%s: round(%v [%#08x]) = %v, want %v", r.name, x, math.Float32bits(x), got, w)
		return
	}
	// The encoding decodes back to the rounded value.
	if d := r.decode(r.encode(x)); !same(float64(d), float64(got)) {
		t.Errorf("%s: decode(encode(%v)) = %v, want %v", r.name, x, d, got)
	}
}

// TestRoundTripAllCodes decodes every code of each format and encodes it
// back: the code must come back (NaNs stay NaN).
func TestRoundTripAllCodes(t *testing.T) {
	for _, r := range refFormats {
		n := uint32(1) << 8
		if r == refF16 || r == refBF16 {
			n = 1 << 16
		}
		nans := 0
		for c := uint32(0); c < n; c++ {
			v := r.decode(c)
			if math.IsNaN(float64(v)) {
				nans++
				if !math.IsNaN(float64(r.decode(r.encode(v)))) {
					t.Errorf("%s: NaN code %#x does not round-trip to NaN", r.name, c)
				}
				continue
			}
			if got := r.encode(v); got != c {
				t.Errorf("%s: encode(decode(%#x) = %v) = %#x", r.name, c, v, got)
			}
			if got := r.round(v); !same(float64(got), float64(v)) {
				t.Errorf("%s: round(%v) = %v, not the identity", r.name, v, got)
			}
			// The value agrees with the independent enumeration.
			if !math.IsInf(float64(v), 0) {
				i := slices.Index(r.codes, c&^r.sign)
				if i < 0 || !same(math.Abs(float64(v)), r.vals[i]) {
					t.Errorf("%s: decode(%#x) = %v disagrees with the field layout", r.name, c, v)
				}
			}
		}
		wantNaN := map[*refFormat]int{refE4M3: 2, refE5M2: 6, refF16: 2046, refBF16: 254}[r]
		if nans != wantNaN {
			t.Errorf("%s: %d NaN codes, want %d", r.name, nans, wantNaN)
		}
	}
}

// TestRoundMidpoints rounds every midpoint between neighbouring values (ties
// go to the even code) and the f32 values either side of it.
func TestRoundMidpoints(t *testing.T) {
	for _, r := range refFormats {
		for i := 1; i < len(r.vals); i++ {
			mid := (r.vals[i-1] + r.vals[i]) / 2
			m := float32(mid)
			if float64(m) != mid {
				continue // not representable in f32 (bf16 subnormal range is fine; f32 covers all)
			}
			for _, x := range []float32{m, math.Nextafter32(m, 0), math.Nextafter32(m, 1e30)} {
				checkRound(t, r, x)
				checkRound(t, r, -x)
			}
		}
		// Around and beyond max.
		ulp := r.max - r.vals[len(r.vals)-2]
		for _, x := range []float64{r.max, r.max + ulp/4, r.max + ulp/2, r.max + ulp, 2 * r.max, 1e30, math.Inf(1)} {
			if x > math.MaxFloat32 && !math.IsInf(x, 0) {
				continue
			}
			checkRound(t, r, float32(x))
			checkRound(t, r, -float32(x))
		}
	}
}

func TestRoundRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	for _, r := range refFormats {
		for i := 0; i < 200000; i++ {
			var x float32
			switch i % 3 {
			case 0:
				x = math.Float32frombits(rng.Uint32()) // anything, NaN and inf included
			case 1:
				x = float32(rng.NormFloat64() * math.Ldexp(1, rng.IntN(40)-25))
			default: // near the format's range
				x = float32((rng.Float64()*2 - 1) * r.max * 1.2)
			}
			checkRound(t, r, x)
			if t.Failed() {
				t.FailNow() // the seed to replay it is in the log
			}
		}
	}
}

func TestRoundEdgeCases(t *testing.T) {
	cases := []struct {
		dt   ir.DType
		in   float32
		want float32
	}{
		{ir.F8E4M3, 448, 448},
		{ir.F8E4M3, 464, 448}, // tie between 448 (even) and 480 (NaN code)
		{ir.F8E4M3, 470, 448}, // saturates
		{ir.F8E4M3, 1e9, 448},
		{ir.F8E4M3, float32(math.Inf(-1)), -448},
		{ir.F8E4M3, 0x1p-9, 0x1p-9},         // smallest subnormal
		{ir.F8E4M3, 0x1p-10, 0},             // tie between 0 (even) and 2^-9
		{ir.F8E4M3, 0x1.8p-9, 0x1p-8},       // tie between 1 and 2 quanta: even (2)
		{ir.F8E4M3, 0x1.000002p-10, 0x1p-9}, // just above the tie
		{ir.F8E4M3, 17, 16},                 // tie between 16 (even) and 18
		{ir.F8E4M3, 19, 20},                 // tie between 18 and 20 (even)
		{ir.F8E5M2, 57344, 57344},
		{ir.F8E5M2, 61440, float32(math.Inf(1))}, // tie between max (odd) and 2^16 → inf
		{ir.F8E5M2, 61439, 57344},
		{ir.F8E5M2, 0x1p-16, 0x1p-16}, // smallest subnormal
		{ir.F16, 65519, 65504},
		{ir.F16, 65520, float32(math.Inf(1))},
		{ir.F16, 0x1p-24, 0x1p-24},
		{ir.F16, 0x1p-25, 0},
		{ir.F16, 1 + 0x1p-11, 1},            // tie → even
		{ir.F16, 1 + 0x1.8p-10, 1 + 0x1p-9}, // tie → even
		{ir.BF16, 1 + 0x1p-8, 1},            // tie → even
		{ir.BF16, 1 + 0x1.8p-7, 1 + 0x1p-6}, // tie → even
		{ir.BF16, math.MaxFloat32, float32(math.Inf(1))},
		{ir.BF16, 0x1p-133, 0x1p-133}, // bf16 subnormal
		{ir.F32, 1 + 0x1p-23, 1 + 0x1p-23},
	}
	for _, c := range cases {
		if got := RoundTo(c.dt, c.in); !same(float64(got), float64(c.want)) {
			t.Errorf("RoundTo(%s, %v) = %v, want %v", c.dt, c.in, got, c.want)
		}
		xs := []float32{c.in}
		RoundSlice(c.dt, xs)
		if !same(float64(xs[0]), float64(c.want)) {
			t.Errorf("RoundSlice(%s, %v) = %v, want %v", c.dt, c.in, xs[0], c.want)
		}
	}
	nan := float32(math.NaN())
	for _, dt := range []ir.DType{ir.BF16, ir.F16, ir.F8E4M3, ir.F8E5M2} {
		if v := RoundTo(dt, nan); !math.IsNaN(float64(v)) {
			t.Errorf("RoundTo(%s, NaN) = %v", dt, v)
		}
	}
	if b := F32ToE4M3Bits(nan); b != 0x7f {
		t.Errorf("e4m3(NaN) = %#x, want 0x7f", b)
	}
	if b := F32ToE4M3Bits(-nan); b != 0xff {
		t.Errorf("e4m3(-NaN) = %#x, want 0xff", b)
	}
	if b := F32ToE4M3Bits(float32(math.Inf(1))); b != 0x7e {
		t.Errorf("e4m3(+inf) = %#x, want 0x7e (448)", b)
	}
	if b := F32ToE4M3Bits(float32(math.Copysign(0, -1))); b != 0x80 {
		t.Errorf("e4m3(-0) = %#x, want 0x80", b)
	}
	if b := F32ToBF16Bits(nan); BF16BitsToF32(b) == BF16BitsToF32(b) {
		t.Errorf("bf16(NaN) = %#x is not NaN", b)
	}
	if !math.IsNaN(float64(E4M3BitsToF32(0x7f))) || !math.IsNaN(float64(E4M3BitsToF32(0xff))) {
		t.Error("e4m3 0x7f/0xff must decode to NaN")
	}
	if E4M3BitsToF32(0x7e) != 448 || E4M3BitsToF32(0x01) != 0x1p-9 || E4M3BitsToF32(0x08) != 0x1p-6 {
		t.Error("e4m3 decode of max / smallest subnormal / smallest normal is wrong")
	}
}
