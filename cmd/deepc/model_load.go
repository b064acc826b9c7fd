package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/weights"
	"github.com/spf13/cobra"
)

// defaultModel is the model file runtime commands compile when none is named.
const defaultModel = "models/deepseek_v3.deep"

// inferencePipeline derives prefill/decode (latent KV cache, absorbed
// decode), fuses sibling GEMMs and lowers the experts to dispatch, grouped
// GEMMs and combine.
const inferencePipeline = "canonicalize,kv-cache,mla-absorb,fuse-siblings,moe-lower,cse,dce"

// cpuMoEBlock pads experts' rows on the CPU: its GEMM has no tiles that
// could straddle two experts, so padding would only add work.
const cpuMoEBlock = 1

// modelFlags are the flags of the commands that run a checkpoint.
type modelFlags struct {
	checkpoint string
	precision  string
	sets       []string
	workers    int
	moeBlock   int
	pipeline   string // instead of inferencePipeline (grad, tests)
	// module, when set, is the compiled module to run (a bundle's IR):
	// no model file is compiled.
	module  *ir.Module
	plugins pluginFlags
	// extend, when set, adds functions to the compiled module before its
	// weights are bound (grad adds the loss and its gradient).
	extend func(*ir.Module) error
	// quantized keeps block-quantized weights as loaded (a bundle's
	// kernels read fp8 values and scales) instead of dequantising them
	// once for the CPU.
	quantized bool
}

func (f *modelFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.checkpoint, "checkpoint", "", "Hugging Face checkpoint directory (config.json + safetensors, sharded or not)")
	fl.StringVar(&f.precision, "precision", "fp32", "fp32 (weights dequantised, f32 compute), bf16, or fp8 (docs/model.md §5 recipe, emulated)")
	fl.StringArrayVar(&f.sets, "set", nil, "override a config value after config.json: key=value (repeatable)")
	fl.IntVar(&f.workers, "threads", 0, "CPU threads (default: all cores)")
	fl.IntVar(&f.moeBlock, "moe-block", cpuMoEBlock, "pad each expert's dispatched rows to a multiple of this (the GPU's GEMM tile is 128)")
	f.plugins.register(cmd)
	_ = cmd.MarkFlagRequired("checkpoint")
	_ = cmd.RegisterFlagCompletionFunc("precision", cobra.FixedCompletions([]string{"fp32", "bf16", "fp8"}, cobra.ShellCompDirectiveNoFileComp))
}

// compile compiles the model file (args[0], or the default) with the
// checkpoint's config.json and the --set overrides, then runs pipeline.
func (f *modelFlags) compile(args []string, pipeline string, diag io.Writer) (*ir.Module, error) {
	if f.module != nil {
		return f.module, nil
	}
	file := defaultModel
	if len(args) > 0 {
		file = args[0]
	}
	cfgPath := filepath.Join(f.checkpoint, "config.json")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	sets, err := models.SetsFromHFConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	start := time.Now()
	m, err := dsl.CompileFile(file, dsl.Options{Sets: append(sets, f.sets...), ReadFile: models.ReadFile})
	if err != nil {
		return nil, err
	}
	pl, _, set, err := f.plugins.pipeline(pipeline, diag)
	if err != nil {
		return nil, err
	}
	if set != nil {
		defer set.Close()
	}
	block := f.moeBlock
	if block == 0 {
		block = cpuMoEBlock
	}
	ctx := &passes.Context{Out: diag, Options: map[string]string{"moe-block": fmt.Sprint(block)}}
	if err := passes.Run(ctx, m, pl); err != nil {
		return nil, err
	}
	record(set, m, diag)
	fmt.Fprintf(diag, "compiled %s in %.0f ms\n", m.Name, time.Since(start).Seconds()*1000)
	return m, nil
}

// load compiles the model for inference and binds the checkpoint's
// weights. Progress goes to diag.
func (f *modelFlags) load(args []string, diag io.Writer) (*infer.Model, error) {
	mode, err := cpu.ParseMode(f.precision)
	if err != nil {
		return nil, err
	}
	pipeline := inferencePipeline
	if f.pipeline != "" {
		pipeline = f.pipeline
	}
	m, err := f.compile(args, pipeline, diag)
	if err != nil {
		return nil, err
	}
	if f.extend != nil {
		if err := f.extend(m); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	var opts []weights.Option
	if mode == cpu.FP32 {
		opts = append(opts, weights.ExactValues())
	}
	opts = append(opts, weights.IgnoreTensors(models.CheckpointCopy))
	params, err := weights.Load(infer.Stored(m), f.checkpoint, opts...)
	if err != nil {
		return nil, err
	}
	if err := infer.BindDerived(m, params); err != nil {
		return nil, err
	}
	// Convert (and dequantise) the weights once for the mode, not on
	// every decode step.
	if params, err = cpu.PrepareParams(m, params, mode); err != nil {
		return nil, err
	}
	if !f.quantized {
		params = cpu.DequantizeParams(params, mode)
	}
	fmt.Fprintf(diag, "loaded %d tensors from %s in %.0f ms\n", len(params), f.checkpoint, time.Since(start).Seconds()*1000)
	return &infer.Model{Module: m, Params: params, Opts: cpu.Options{Mode: mode, Workers: f.workers}}, nil
}
