package passes

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// f32 rounding must be exactly Go's float64 → float32 conversion, which is
// IEEE round-to-nearest-even.
func TestRoundF32MatchesConversion(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f32 := floatFormats[ir.F32]
	check := func(x float64) {
		if got, want := f32.round(x), float64(float32(x)); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("round(%g) = %g, want %g", x, got, want)
		}
	}
	for i := 0; i < 200000; i++ {
		// Random bits cover every exponent, subnormals and specials included.
		check(math.Float64frombits(r.Uint64()))
		// Values near f32 ties and the f32 range edges.
		check(float64(math.Float32frombits(r.Uint32())) * (1 + float64(r.IntN(3)-1)*0x1p-24))
	}
	for _, x := range []float64{0, math.Copysign(0, -1), math.MaxFloat32, math.MaxFloat32 * (1 + 0x1p-25), math.MaxFloat32 * (1 + 0x1p-24), 0x1p-149, 0x1p-150, 0x1.8p-150, math.Inf(1), math.NaN()} {
		check(x)
	}
}

func TestRoundNarrowFormats(t *testing.T) {
	for _, tc := range []struct {
		dt      ir.DType
		in, out float64
	}{
		{ir.BF16, 1.0 / 3, 0.333984375},
		{ir.BF16, 1 + 0x1p-8, 1},             // tie: to even (1.0000000)
		{ir.BF16, 1 + 3*0x1p-8, 1 + 0x1p-6},  // tie: to even (1.0000010)
		{ir.BF16, 0x1.fep127, 0x1.fep127},    // max finite
		{ir.BF16, 0x1.ffp127, math.Inf(1)},   // halfway above max: overflows
		{ir.BF16, -0x1.fe8p127, -0x1.fep127}, // below halfway: max
		{ir.BF16, 0x1p-133, 0x1p-133},        // smallest subnormal
		{ir.BF16, 0x1p-134, 0},               // half of it: tie to even, zero
		{ir.F16, 65504, 65504},               // max finite
		{ir.F16, 65519, 65504},               // just under halfway
		{ir.F16, 65520, math.Inf(1)},         // halfway: overflows
		{ir.F16, 0.1, 0.0999755859375},       // 0x2E66
		{ir.F16, 0x1p-24, 0x1p-24},           // smallest subnormal
		{ir.F16, 0x1.8p-24, 0x1p-23},         // 1.5 ulps: tie to even
		{ir.F16, 0x1p-25, 0},                 // half an ulp: tie to even, zero
		{ir.F16, -1e9, math.Inf(-1)},
	} {
		if got := floatFormats[tc.dt].round(tc.in); got != tc.out {
			t.Errorf("%s round(%g) = %g, want %g", tc.dt, tc.in, got, tc.out)
		}
	}
}

// foldOne canonicalizes a function of one scalar op on constants and returns
// the printed op the result comes from.
func foldOne(t *testing.T, body, resultType string) string {
	t.Helper()
	src := "module @m {\n  func @f() -> (" + resultType + ") {\n" + body + "    return %r\n  }\n}\n"
	m := parse(t, strings.Replace(src, "%r", lastValue(body), 1))
	pl, _ := ParsePipeline("canonicalize,dce")
	if err := Run(testContext(), m, pl); err != nil {
		t.Fatal(err)
	}
	text := ir.PrintFunc(m.Funcs[0])
	ret := text[strings.LastIndex(text, "return ")+len("return "):]
	ret = strings.TrimSpace(strings.SplitN(ret, "\n", 2)[0])
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, ret+" = ") {
			return line
		}
	}
	t.Fatalf("no op defines the result:\n%s", text)
	return ""
}

// lastValue is the name defined on the body's last line.
func lastValue(body string) string {
	lines := strings.Split(strings.TrimSpace(body), "\n")
	return strings.Fields(lines[len(lines)-1])[0]
}

func TestFoldCases(t *testing.T) {
	c := func(dt, v string) string { return "const {dtype = " + dt + ", value = " + v + "} : [] " + dt }
	for _, tc := range []struct {
		name, body, typ, want string
	}{
		{"f16 rounds", "    %0 = " + c("f16", "1.0") + "\n    %1 = " + c("f16", "3.0") + "\n    %2 = div %0, %1 : [] f16\n", "[] f16", c("f16", "0.333251953125")},
		{"f32 overflow is inf", "    %0 = " + c("f32", "3e38") + "\n    %1 = add %0, %0 : [] f32\n", "[] f32", c("f32", "inf")},
		{"int const read as float", "    %0 = " + c("bf16", "2") + "\n    %1 = mul %0, %0 : [] bf16\n", "[] bf16", c("bf16", "4.0")},
		{"const value rounded to its dtype first", "    %0 = " + c("bf16", "0.1") + "\n    %1 = neg %0 : [] bf16\n", "[] bf16", c("bf16", "-0.10009765625")},
		{"i32 neg wraps", "    %0 = " + c("i32", "-2147483648") + "\n    %1 = neg %0 : [] i32\n", "[] i32", c("i32", "-2147483648")},
		{"i64 max", "    %0 = " + c("i64", "3") + "\n    %1 = " + c("i64", "-4") + "\n    %2 = maximum %0, %1 : [] i64\n", "[] i64", c("i64", "3")},
		{"int sign", "    %0 = " + c("i64", "-4") + "\n    %1 = sign %0 : [] i64\n", "[] i64", c("i64", "-1")},
		{"sqrt", "    %0 = " + c("f32", "2.0") + "\n    %1 = sqrt %0 : [] f32\n", "[] f32", c("f32", "1.4142135381698608")},
		{"nan compares unequal", "    %0 = " + c("f32", "nan") + "\n    %1 = ne %0, %0 : [] bool\n", "[] bool", c("bool", "true")},
		{"bool eq", "    %0 = " + c("bool", "true") + "\n    %1 = " + c("bool", "false") + "\n    %2 = eq %0, %1 : [] bool\n", "[] bool", c("bool", "false")},
		{"cast i64 to i32 wraps", "    %0 = " + c("i64", "4294967297") + "\n    %1 = cast %0 {dtype = i32} : [] i32\n", "[] i32", c("i32", "1")},
		{"cast bool to f32", "    %0 = " + c("bool", "true") + "\n    %1 = cast %0 {dtype = f32} : [] f32\n", "[] f32", c("f32", "1.0")},
		{"cast f32 to f16 rounds", "    %0 = " + c("f32", "65519.0") + "\n    %1 = cast %0 {dtype = f16} : [] f16\n", "[] f16", c("f16", "65504.0")},
		// Left alone: semantics that differ between backends or fail at run time.
		{"int div by zero", "    %0 = " + c("i32", "1") + "\n    %1 = " + c("i32", "0") + "\n    %2 = div %0, %1 : [] i32\n", "[] i32", "div %0, %1 : [] i32"},
		{"max with nan", "    %0 = " + c("f32", "nan") + "\n    %1 = " + c("f32", "1.0") + "\n    %2 = maximum %0, %1 : [] f32\n", "[] f32", "maximum %0, %1 : [] f32"},
		{"sign of zero", "    %0 = " + c("f32", "0.0") + "\n    %1 = sign %0 : [] f32\n", "[] f32", "sign %0 : [] f32"},
		{"cast f32 to i32", "    %0 = " + c("f32", "2.5") + "\n    %1 = cast %0 {dtype = i32} : [] i32\n", "[] i32", "cast %0 {dtype = i32} : [] i32"},
		{"fp8 arithmetic", "    %0 = " + c("f8e4m3", "2.0") + "\n    %1 = add %0, %0 : [] f8e4m3\n", "[] f8e4m3", "add %0, %0 : [] f8e4m3"},
		{"pow", "    %0 = " + c("f32", "2.0") + "\n    %1 = pow %0, %0 : [] f32\n", "[] f32", "pow %0, %0 : [] f32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := foldOne(t, tc.body, tc.typ)
			if !strings.HasSuffix(got, "= "+tc.want) {
				t.Errorf("got %q, want ... = %s", got, tc.want)
			}
		})
	}
}
