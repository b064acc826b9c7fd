package main

import (
	"io"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/spf13/cobra"
)

// modelFlags are the flags of the commands that run a checkpoint.
type modelFlags struct {
	checkpoint string
	precision  string
	sets       []string
	workers    int
	moeBlock   int
	plugins    pluginFlags
	options    []string
}

func (f *modelFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.checkpoint, "checkpoint", "", "Hugging Face checkpoint directory (config.json + safetensors, sharded or not)")
	fl.StringVar(&f.precision, "precision", "fp32", "fp32 (weights dequantised, f32 compute), bf16, or fp8 (docs/model.md §5 recipe, emulated)")
	fl.StringArrayVar(&f.sets, "set", nil, "override a config value after config.json: key=value (repeatable)")
	fl.IntVar(&f.workers, "threads", 0, "CPU threads (default: all cores)")
	fl.IntVar(&f.moeBlock, "moe-block", driver.CPUMoEBlock, "pad each expert's dispatched rows to a multiple of this (the GPU's GEMM tile is 128; --pass-option moe-lower.moe-block wins)")
	f.plugins.register(cmd)
	registerPassOption(cmd, &f.options)
	_ = cmd.MarkFlagRequired("checkpoint")
	_ = cmd.RegisterFlagCompletionFunc("precision", cobra.FixedCompletions([]string{"fp32", "bf16", "fp8"}, cobra.ShellCompDirectiveNoFileComp))
}

// spec is what the flags say to load: the model file args[0] (or the
// default), or module (a bundle's IR) when it is not nil.
func (f *modelFlags) spec(args []string, module *ir.Module, diag io.Writer) (driver.Load, error) {
	mode, err := cpu.ParseMode(f.precision)
	if err != nil {
		return driver.Load{}, err
	}
	l := driver.Load{Checkpoint: f.checkpoint, Sets: f.sets, Mode: mode, Workers: f.workers, MoEBlock: f.moeBlock,
		Pipeline: passes.InferencePipeline, Plugins: f.plugins.driver(diag), PassOptions: f.options, Module: module, Diag: diag}
	if len(args) > 0 {
		l.File = args[0]
	}
	return l, nil
}

// load compiles the model for inference and binds the checkpoint's weights.
func (f *modelFlags) load(args []string, diag io.Writer) (*infer.Model, error) {
	l, err := f.spec(args, nil, diag)
	if err != nil {
		return nil, err
	}
	return l.Model()
}
