package main

import (
	"runtime"
	"testing"
	"time"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
)

// BenchmarkCompileDeepSeekV3 elaborates the full 671B model's forward and
// MTP graphs and runs the default pipeline. Targets: under 1 s and 300 MB
// allocated per compile; it reports both as fractions of their budget.
// The baseline, measured in the same run, is reading the same graph back
// from its text form (ir.Parse): x-ir-parse is compile time over that.
func BenchmarkCompileDeepSeekV3(b *testing.B) {
	pl, err := passes.ParsePipeline(passes.CanonicalPipeline)
	if err != nil {
		b.Fatal(err)
	}
	baseline := parseBaseline(b)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	for b.Loop() {
		m, err := dsl.CompileFile(fullModel, dsl.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := passes.Run(&passes.Context{}, m, pl); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	perOp := b.Elapsed() / time.Duration(b.N)
	mb := float64(after.TotalAlloc-before.TotalAlloc) / float64(b.N) / (1 << 20)
	b.ReportMetric(float64(perOp)/float64(baseline), "x-ir-parse")
	b.ReportMetric(perOp.Seconds()/1.0, "of-1s-budget")
	b.ReportMetric(mb/300, "of-300MB-budget")
}

// parseBaseline times ir.Parse of the full model's printed IR.
func parseBaseline(b *testing.B) time.Duration {
	m, err := dsl.CompileFile(fullModel, dsl.Options{})
	if err != nil {
		b.Fatal(err)
	}
	text := ir.Print(m)
	const n = 3
	start := time.Now()
	for range n {
		if _, err := ir.Parse("m.ir", text); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / n
}
