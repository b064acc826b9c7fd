package host

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
)

// fullModel is DeepSeek-V3's forward and mtp as the DSL compiles them.
func fullModel(tb testing.TB) *ir.Module {
	tb.Helper()
	m, err := dsl.CompileFile("../../models/deepseek_v3.deep", dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// runOnce runs plugin pass p over m and returns how long the call took.
func runOnce(tb testing.TB, ps *Pass, m *ir.Module) time.Duration {
	start := time.Now()
	if _, err := ps.Run(&passes.Context{}, m); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start)
}

// Both forms carry the module: fold-norm-weight on the full model gives
// the same module through the binary form as through the text.
func TestBinaryAndTextTransportAgree(t *testing.T) {
	var got []string
	for _, text := range []bool{false, true} {
		p, err := Start(path("fold-norm-weight"), Config{TextModules: text})
		if err != nil {
			t.Fatal(err)
		}
		if p.binary == text {
			t.Fatalf("TextModules=%v: binary transport %v", text, p.binary)
		}
		m := fullModel(t)
		if changed, err := p.Passes()[0].Run(&passes.Context{}, m); err != nil || !changed {
			t.Fatalf("changed %v, err %v", changed, err)
		}
		got = append(got, ir.Print(m))
		p.Close()
	}
	if got[0] != got[1] {
		t.Error("the binary and text transports give different modules")
	}
}

// BenchmarkPluginRoundTrip measures one call of a pass that changes
// nothing on the full DeepSeek-V3 module (4k ops): encode, gRPC, decode,
// run, verify, encode, gRPC, decode, verify. The baseline, in the same
// run and interleaved, is the same call through the text form.
//
//	go test ./plugins/host -run '^$' -bench PluginRoundTrip
func BenchmarkPluginRoundTrip(b *testing.B) {
	m := fullModel(b)
	start := func(text bool) *Pass {
		p, err := Start(path("nop"), Config{TextModules: text})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Close)
		return p.Passes()[0]
	}
	bin, txt := start(false), start(true)
	runOnce(b, bin, m) // warm both processes
	runOnce(b, txt, m)
	var tb, tt time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tb += runOnce(b, bin, m)
		tt += runOnce(b, txt, m)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tb.Milliseconds())/n, "binary-ms/call")
	b.ReportMetric(float64(tt.Milliseconds())/n, "text-ms/call")
	b.ReportMetric(float64(tt)/float64(tb), "text/binary")
}

// A pass that changes nothing leaves the module as it was, values and
// all: instruments that follow values by identity (the HTML view) see no
// change.
func TestUnchangedAnswerKeepsValues(t *testing.T) {
	for _, text := range []bool{false, true} {
		p, err := Start(path("nop"), Config{TextModules: text})
		if err != nil {
			t.Fatal(err)
		}
		m, err := ir.Parse("tiny.ir", tiny)
		if err != nil {
			t.Fatal(err)
		}
		first := m.Funcs[0].Body[0]
		changed, err := p.Passes()[0].Run(&passes.Context{}, m)
		p.Close()
		if err != nil || changed || m.Funcs[0].Body[0] != first {
			t.Errorf("text %v: changed %v, err %v, same ops %v", text, changed, err, m.Funcs[0].Body[0] == first)
		}
	}
}

// Run by hand, a Go plugin says what it is and how deepc starts it.
func TestPluginRunByHand(t *testing.T) {
	cmd := exec.Command(path("nop"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "is a deepc pass plugin (nop 0.0.1): deepc starts it, e.g. deepc compile MODEL --plugin") {
		t.Errorf("err %v, output %q", err, out)
	}
}

// A plugin that exits before its handshake is reported by what it said,
// not by go-plugin's guess about architectures and libraries.
func TestExitBeforeHandshakeSaysWhy(t *testing.T) {
	_, err := Start(path("badanchor"), Config{Timeout: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "exited before its handshake") || !strings.Contains(err.Error(), `anchor "sideways:dce"`) || strings.Contains(err.Error(), "architecture") {
		t.Errorf("got %v", err)
	}
}

// An answer far bigger than what was sent is refused before it is
// decoded (decoding takes tens of times its size in memory).
func TestAnswerSizeIsBounded(t *testing.T) {
	defer func(s int) { answerSlack = s }(answerSlack)
	answerSlack = 0
	p, err := Start(path("echo"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	m, err := ir.Parse("tiny.ir", tiny)
	if err != nil {
		t.Fatal(err)
	}
	sent := len(ir.Encode(m))
	ctx := &passes.Context{Options: map[string]string{"grow": "3000"}} // as passes.Run gives them
	_, err = p.Passes()[0].Run(ctx, m)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("for a %d-byte one (at most %d)", sent, 16*sent)) {
		t.Errorf("got %v", err)
	}
	if len(m.Params) > 10 {
		t.Errorf("the refused answer replaced the module (%d params)", len(m.Params))
	}
}
