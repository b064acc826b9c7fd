package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/passes/autodiff"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/train"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// TrainResult is the training benchmark's JSON line.
type TrainResult struct {
	Impl       string    `json:"impl"`
	Threads    int       `json:"threads"`
	Batch      int       `json:"batch"`
	Seq        int       `json:"seq"`
	Steps      int       `json:"steps"`
	StepS      []float64 `json:"step_s"`
	Losses     []float64 `json:"losses"`
	TokS       float64   `json:"train_tok_s"` // B·S / median step time (after the first)
	PeakRSSKiB int64     `json:"peak_rss_kib"`
}

// trainHyper is what the PyTorch side does too: next-token CE only, AdamW
// (decay on matrices), clipping at 1.0, no bias updates.
var trainHyper = autodiff.AdamW

// TrainBatch is step s's batch: token j of sequence b is
// Prompt(b + s·B, j) (torch_deepseek.py train uses the same).
func TrainBatch(s, B, S, vocab int) train.Batch {
	var b train.Batch
	for i := 0; i < B; i++ {
		seq := make([]int, S)
		for j := range seq {
			seq[j] = Prompt(i+s*B, j, vocab)
		}
		b.Seqs = append(b.Seqs, seq)
	}
	return b
}

func runTrain(file, dir, profile string, steps, B, S, threads int, lr float64, opTimes, wide bool) error {
	l := driver.Load{File: file, Checkpoint: dir, Pipeline: passes.CanonicalPipeline}
	m, err := l.Compile()
	if err != nil {
		return err
	}
	params, err := weights.Load(m, dir, weights.ExactValues(), weights.IgnoreTensors(models.CheckpointCopy))
	if err != nil {
		return err
	}
	vocab := int(m.Func("forward").Results[0].Type.Shape[1].N)
	if _, err := autodiff.Train(m, trainHyper); err != nil {
		return err
	}
	tr, err := train.New(m, params, cpu.Options{Mode: cpu.FP32, Workers: threads, Wide: wide})
	if err != nil {
		return err
	}
	res := TrainResult{Impl: "deepc", Threads: threads, Batch: B, Seq: S, Steps: steps}
	if res.Threads <= 0 {
		res.Threads = runtime.NumCPU()
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for s := 0; s < steps; s++ {
		if opTimes && s == 1 { // the first step is not timed
			tr.Opts.OpTime = map[string]time.Duration{}
		}
		start := time.Now()
		met, err := tr.TakeStep(TrainBatch(s, B, S, vocab), lr)
		if err != nil {
			return err
		}
		res.StepS = append(res.StepS, time.Since(start).Seconds())
		res.Losses = append(res.Losses, met.CE)
	}
	res.TokS = float64(B*S) / median(res.StepS[min(1, len(res.StepS)-1):])
	if opTimes {
		printOpTimes(tr.Opts.OpTime, steps-1)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		res.PeakRSSKiB = ru.Maxrss
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// printOpTimes writes each op kind's time per step to stderr, slowest first.
func printOpTimes(t map[string]time.Duration, steps int) {
	names := slices.Collect(maps.Keys(t))
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(t[b], t[a]) })
	var total time.Duration
	for _, d := range t {
		total += d
	}
	fmt.Fprintf(os.Stderr, "op time per step (%d steps): %.1f ms\n", steps, total.Seconds()*1e3/float64(max(steps, 1)))
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-24s %8.2f ms  %5.1f%%\n", n, t[n].Seconds()*1e3/float64(max(steps, 1)), 100*t[n].Seconds()/total.Seconds())
	}
}
