package passes

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

func TestRunEmptyPipeline(t *testing.T) {
	m := parse(t, smallModule)
	if err := Run(nil, m, Pipeline{}); err != nil {
		t.Fatal(err)
	}
	if ir.Print(m) != smallModule {
		t.Errorf("empty pipeline changed the module:\n%s", ir.Print(m))
	}
}

func TestPanicBecomesError(t *testing.T) {
	r := testRegistry(t)
	err := Run(&Context{}, parse(t, smallModule), pipeline(t, r, "noop,panic"))
	if err == nil || !strings.Contains(err.Error(), "pass panic (2/2) panicked: boom") {
		t.Fatalf("got %v", err)
	}
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Pass != "panic" || pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Errorf("PanicError = %+v", pe)
	}
}

func TestPassErrorNamesPassAndStops(t *testing.T) {
	r := testRegistry(t)
	m := parse(t, smallModule)
	err := Run(&Context{}, m, pipeline(t, r, "fail,rename"))
	if err == nil || !strings.Contains(err.Error(), "pass fail (1/2): no luck") {
		t.Fatalf("got %v", err)
	}
	if m.Name != "m" {
		t.Errorf("the pass after the failing one ran: module is @%s", m.Name)
	}
}

func TestVerifyAfterEach(t *testing.T) {
	r := testRegistry(t)
	err := Run(&Context{}, parse(t, smallModule), pipeline(t, r, "noop,break-ir,noop"))
	if err == nil || !strings.Contains(err.Error(), "pass break-ir (2/3) produced invalid IR") ||
		!strings.Contains(err.Error(), "result 0 has type [T, 4] f32, want [T, 4] bf16") {
		t.Fatalf("got %v", err)
	}
	// Off, the broken module goes through.
	if err := Run(&Context{NoVerify: true}, parse(t, smallModule), pipeline(t, r, "break-ir")); err != nil {
		t.Errorf("NoVerify: %v", err)
	}
}

func TestVerifyInput(t *testing.T) {
	m := parse(t, smallModule)
	m.Params[0].Type.DType = ir.F32 // the param op now reads it with the wrong type
	err := Run(&Context{}, m, pipeline(t, testRegistry(t), "noop"))
	if err == nil || !strings.Contains(err.Error(), "input module: does not verify") {
		t.Fatalf("got %v", err)
	}
}

func TestOptions(t *testing.T) {
	ctx := &Context{Options: map[string]string{"seq-len": "128", "bad": "x"}}
	if n, err := ctx.IntOption("seq-len", 1); n != 128 || err != nil {
		t.Errorf("IntOption(seq-len) = %d, %v", n, err)
	}
	if n, err := ctx.IntOption("missing", 7); n != 7 || err != nil {
		t.Errorf("IntOption(missing) = %d, %v", n, err)
	}
	if _, err := ctx.IntOption("bad", 1); err == nil {
		t.Error("IntOption(bad) did not fail")
	}
	if got := ctx.Option("missing", "d"); got != "d" {
		t.Errorf("Option(missing) = %q", got)
	}
}

// Instruments run in order around each pass, after the verifier.
func TestInstrumentOrder(t *testing.T) {
	var log []string
	rec := func(name string) Instrument { return &recorder{name: name, log: &log} }
	ctx := &Context{Instruments: []Instrument{rec("a"), rec("b")}}
	if err := Run(ctx, parse(t, smallModule), pipeline(t, testRegistry(t), "noop,rename")); err != nil {
		t.Fatal(err)
	}
	want := "a:before noop 1,b:before noop 1,a:after noop 1,b:after noop 1," +
		"a:before rename 2,b:before rename 2,a:after rename 2 changed,b:after rename 2 changed"
	if got := strings.Join(log, ","); got != want {
		t.Errorf("hooks ran as\n%s\nwant\n%s", got, want)
	}
}

type recorder struct {
	name string
	log  *[]string
}

func (r *recorder) BeforePass(ctx *Context, p Pass, _ *ir.Module) error {
	*r.log = append(*r.log, r.name+":before "+p.Name()+" "+strconv.Itoa(ctx.Step()))
	return nil
}

func (r *recorder) AfterPass(ctx *Context, p Pass, _ *ir.Module, res Result) error {
	s := r.name + ":after " + p.Name() + " " + strconv.Itoa(ctx.Step())
	if res.Changed {
		s += " changed"
	}
	*r.log = append(*r.log, s)
	return nil
}

// A failing BeforePass hook stops the run before the pass.
func TestInstrumentBeforeError(t *testing.T) {
	m := parse(t, smallModule)
	ctx := &Context{Instruments: []Instrument{failBefore{}}}
	err := Run(ctx, m, pipeline(t, testRegistry(t), "rename"))
	if err == nil || !strings.Contains(err.Error(), "before pass rename (1/1): not today") {
		t.Fatalf("got %v", err)
	}
	if m.Name != "m" {
		t.Error("the pass ran although its BeforePass hook failed")
	}
}

type failBefore struct{ nopInstrument }

func (failBefore) BeforePass(*Context, Pass, *ir.Module) error { return errors.New("not today") }

func TestCheckChanged(t *testing.T) {
	r := testRegistry(t)
	ctx := &Context{Instruments: []Instrument{CheckChanged()}}
	if err := Run(ctx, parse(t, smallModule), pipeline(t, r, "noop,rename")); err != nil {
		t.Errorf("honest passes: %v", err)
	}
	err := Run(ctx, parse(t, smallModule), pipeline(t, r, "liar"))
	if err == nil || !strings.Contains(err.Error(), "pass liar (1/1) reported changed = false, but the IR differs") {
		t.Errorf("liar: %v", err)
	}
	claims := NewPass("claims", "reports a change it did not make", func(*Context, *ir.Module) (bool, error) { return true, nil })
	pl, _ := NewRegistry().NewPipeline(claims)
	err = Run(ctx, parse(t, smallModule), pl)
	if err == nil || !strings.Contains(err.Error(), "reported changed = true, but the IR is the same") {
		t.Errorf("claims: %v", err)
	}
}

func TestRoundTripInstrument(t *testing.T) {
	// An attribute of a Go type the text form does not know prints as
	// something that does not parse. The verifier rejects it too, so turn
	// the verifier off to see RoundTrip catch it on its own.
	bad := NewPass("bad-attr", "adds an int attribute", func(_ *Context, m *ir.Module) (bool, error) {
		m.Attrs = ir.Attrs{"n": 1}
		return true, nil
	})
	pl, _ := NewRegistry().NewPipeline(bad)
	ctx := &Context{NoVerify: true, Instruments: []Instrument{RoundTrip()}}
	err := Run(ctx, parse(t, smallModule), pl)
	if err == nil || !strings.Contains(err.Error(), "after pass bad-attr (1/1): printed IR does not parse") {
		t.Errorf("got %v", err)
	}
	ctx = &Context{Instruments: []Instrument{RoundTrip()}}
	if err := Run(ctx, parse(t, smallModule), pipeline(t, testRegistry(t), "rename")); err != nil {
		t.Errorf("good pass: %v", err)
	}
}

func TestPrintedIsMemoised(t *testing.T) {
	var out bytes.Buffer
	ctx := &Context{Out: &out, Instruments: []Instrument{PrintBefore(), PrintAfter(), PrintAfterChange(), CheckChanged()}}
	if err := Run(ctx, parse(t, smallModule), pipeline(t, testRegistry(t), "rename")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "module @m {") || !strings.Contains(out.String(), "module @m_x {") {
		t.Errorf("before/after dumps do not show the module before and after:\n%s", out.String())
	}
}

func TestFirstDiff(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{"x\ny\n", "x\nz\n", `line 2: "y" became "z"`},
		{"x\n", "x\ny\n", `line 2: "" became "y"`},
		{"x", "x", "no difference"},
	} {
		if got := firstDiff(tc.a, tc.b); got != tc.want {
			t.Errorf("firstDiff(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestAddOrder(t *testing.T) {
	r := testRegistry(t)
	if _, err := r.ParsePipeline("liar,fail"); err != nil {
		t.Fatal(err)
	}
	r.AddOrder(Order{"fail", "liar"})
	if _, err := r.ParsePipeline("liar,fail"); err == nil || !strings.Contains(err.Error(), "pass fail must run before liar") {
		t.Errorf("got %v", err)
	}
	if got := r.Orders(); len(got) != 2 {
		t.Errorf("Orders() = %v", got)
	}
}
