// Command bench times deepc's CPU runtime on the batched prefill + greedy
// decode workload of scripts/bench-cpu.sh, the same workload that
// torch_deepseek.py times for PyTorch.
//
// It compiles the model with the checkpoint's config.json (as `deepc
// generate` does), loads the weights once, then runs the workload -runs
// times: a fresh cache, one Prefill of all B prompts of P tokens, then D
// Decode steps of one token per sequence, each token the argmax of the
// previous logits. Prefill and decode are timed separately (compilation
// and weight loading excluded) and the best run of each is reported, with
// the process's peak RSS, as one JSON object on stdout.
//
//	go build -o bin/deepc-bench ./scripts/bench
//	bin/deepc-bench -checkpoint .cache/bench-tiny-f32 -batch 4 -prompt-len 64 -decode 32
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/infer"
)

// Result is what the driver prints; torch_deepseek.py prints the same keys.
type Result struct {
	Impl          string    `json:"impl"`
	Threads       int       `json:"threads"`
	Batch         int       `json:"batch"`
	PromptLen     int       `json:"prompt_len"`
	Decode        int       `json:"decode"`
	Runs          int       `json:"runs"`
	PrefillS      []float64 `json:"prefill_s"` // every run, seconds
	DecodeS       []float64 `json:"decode_s"`
	PrefillTokS   float64   `json:"prefill_tok_s"` // B·P / best prefill time
	DecodeTokS    float64   `json:"decode_tok_s"`  // B·D / best decode time
	LoadS         float64   `json:"load_s"`        // compile + weight loading
	PeakRSSKiB    int64     `json:"peak_rss_kib"`  // getrusage ru_maxrss
	Generated     [][]int   `json:"generated"`     // the greedy tokens of the last run, D+1 per sequence
	ProfileFile   string    `json:"profile,omitempty"`
	Prompts       string    `json:"prompts"`
	Precision     string    `json:"precision"`
	CheckpointDir string    `json:"checkpoint"`
}

func main() {
	var (
		model      = flag.String("model", "models/deepseek_v3_tiny.deep", "model file")
		checkpoint = flag.String("checkpoint", "", "Hugging Face checkpoint directory")
		precision  = flag.String("precision", "fp32", "fp32, bf16 or fp8")
		batch      = flag.Int("batch", 4, "prompts prefilled together (B)")
		promptLen  = flag.Int("prompt-len", 64, "tokens per prompt (P)")
		decode     = flag.Int("decode", 32, "decode steps, one token per sequence each (D)")
		runs       = flag.Int("runs", 3, "timed runs; the best of each phase is reported")
		threads    = flag.Int("threads", 0, "CPU threads (default: all cores)")
		cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of the timed runs to this file")
		pipeline   = flag.String("pipeline", passes.InferencePipeline, "pass pipeline (default: the one `deepc generate` runs)")
		moeBlock   = flag.Int("moe-block", driver.CPUMoEBlock, "moe-lower's row padding")
		trainMode  = flag.Bool("train", false, "benchmark training steps instead (next-token CE, AdamW, clip 1.0)")
		opTimes    = flag.Bool("op-times", false, "print each op kind's time per step (with -train) or per decode step to stderr")
		wide       = flag.Bool("wide", false, "with -train: accumulate GEMMs and attention in f64 (the same model with less rounding: how far rounding alone moves the losses)")
		steps      = flag.Int("steps", 6, "with -train: optimizer steps (the first is not timed)")
		seqLen     = flag.Int("seq", 128, "with -train: tokens per sequence")
		lr         = flag.Float64("lr", driver.Presets["small"].Schedule.LR, "with -train: learning rate (the small preset's)")
	)
	flag.Parse()
	if *trainMode {
		if err := runTrain(*model, *checkpoint, *cpuprofile, *steps, *batch, *seqLen, *threads, *lr, *opTimes, *wide); err != nil {
			fmt.Fprintln(os.Stderr, "deepc-bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*model, *checkpoint, *precision, *pipeline, *moeBlock, *cpuprofile, *batch, *promptLen, *decode, *runs, *threads, *opTimes); err != nil {
		fmt.Fprintln(os.Stderr, "deepc-bench:", err)
		os.Exit(1)
	}
}

// decodeOpTime, with -op-times, gathers the decode steps' time per op kind.
var decodeOpTime map[string]time.Duration

// Prompt returns token j of prompt b: a fixed pattern that torch_deepseek.py
// reproduces (keep in sync).
func Prompt(b, j, vocab int) int { return (1 + 31*b + 7*j + (j*j)%13) % vocab }

// load loads the model as deepc generate does (driver.Load).
func load(file, dir, precision, pipeline string, moeBlock int) (*infer.Model, error) {
	mode, err := cpu.ParseMode(precision)
	if err != nil {
		return nil, err
	}
	l := driver.Load{File: file, Checkpoint: dir, Mode: mode, Pipeline: pipeline, MoEBlock: moeBlock, Diag: os.Stderr}
	return l.Model()
}

// once runs the workload: prefill of every prompt, then decode steps. It
// returns the two phase times and the greedy tokens.
func once(m *infer.Model, prompts [][]int, decode int) (prefill, dec time.Duration, gen [][]int, err error) {
	B := len(prompts)
	c, err := m.NewCache(B * (len(prompts[0]) + decode))
	if err != nil {
		return 0, 0, nil, err
	}
	ids := make([]int, B)
	for i := range ids {
		ids[i] = i
	}
	next := make([]int, B)
	gen = make([][]int, B)
	// The phases carry a pprof label (phase=prefill|decode) that the
	// kernels' goroutines inherit: -tagfocus=phase=decode in pprof.
	ctx := context.Background()
	start := time.Now()
	pprof.Do(ctx, pprof.Labels("phase", "prefill"), func(context.Context) {
		var l infer.Logits
		if l, err = m.Prefill(c, ids, prompts); err != nil {
			return
		}
		for i, rows := range l.Rows {
			next[i] = infer.Argmax(rows[len(rows)-1])
			gen[i] = append(gen[i], next[i])
		}
	})
	prefill = time.Since(start)
	if err != nil {
		return 0, 0, nil, err
	}
	m.Opts.OpTime = decodeOpTime // nil unless -op-times
	defer func() { m.Opts.OpTime = nil }()
	start = time.Now()
	pprof.Do(ctx, pprof.Labels("phase", "decode"), func(context.Context) {
		for range decode {
			var l infer.Logits
			if l, err = m.Decode(c, ids, next); err != nil {
				return
			}
			for i := range next {
				next[i] = infer.Argmax(l.Rows[i][0])
				gen[i] = append(gen[i], next[i])
			}
		}
	})
	dec = time.Since(start)
	if err != nil {
		return 0, 0, nil, err
	}
	return prefill, dec, gen, nil
}

func run(file, dir, precision, pipeline string, moeBlock int, profile string, B, P, D, runs, threads int, opTimes bool) error {
	if dir == "" {
		return fmt.Errorf("-checkpoint is required")
	}
	if B < 1 || P < 1 || D < 0 || runs < 1 {
		return fmt.Errorf("need batch >= 1, prompt-len >= 1, decode >= 0, runs >= 1")
	}
	t0 := time.Now()
	m, err := load(file, dir, precision, pipeline, moeBlock)
	if err != nil {
		return err
	}
	if threads > 0 {
		m.Opts.Workers = threads
	}
	loadS := time.Since(t0).Seconds()
	vocab := m.Module.Func("forward").Results[0].Type.Shape[1].N
	prompts := make([][]int, B)
	for b := range prompts {
		for j := range P {
			prompts[b] = append(prompts[b], Prompt(b, j, int(vocab)))
		}
	}
	res := Result{
		Impl: "deepc", Threads: threads, Batch: B, PromptLen: P, Decode: D, Runs: runs,
		LoadS: loadS, Prompts: "(1 + 31*b + 7*j + (j*j)%13) % vocab", Precision: precision, CheckpointDir: dir,
	}
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
		res.ProfileFile = profile
	}
	bestP, bestD := time.Duration(1<<62), time.Duration(1<<62)
	if opTimes {
		decodeOpTime = map[string]time.Duration{}
	}
	for range runs {
		p, d, gen, err := once(m, prompts, D)
		if err != nil {
			return err
		}
		bestP, bestD = min(bestP, p), min(bestD, d)
		res.PrefillS = append(res.PrefillS, p.Seconds())
		res.DecodeS = append(res.DecodeS, d.Seconds())
		res.Generated = gen
	}
	if profile != "" {
		pprof.StopCPUProfile()
	}
	if opTimes {
		printOpTimes(decodeOpTime, runs*D)
	}
	res.PrefillTokS = infer.Rate(B*P, bestP)
	if D > 0 {
		res.DecodeTokS = infer.Rate(B*D, bestD)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		res.PeakRSSKiB = ru.Maxrss // KiB on Linux
	}
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(res)
}
