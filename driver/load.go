package driver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// DefaultModel is the model file runtime commands compile when none is named.
const DefaultModel = "models/deepseek_v3.deep"

// CPUMoEBlock pads experts' rows on the CPU: its GEMM has no tiles that
// could straddle two experts, so padding would only add work.
const CPUMoEBlock = 1

// Load says how to make a runnable model of a checkpoint.
type Load struct {
	// File is the model (default DefaultModel), compiled with the
	// checkpoint's config.json and then Sets.
	File       string
	Checkpoint string
	Sets       []string
	Mode       cpu.Mode
	Workers    int
	// MoEBlock pads each expert's dispatched rows (default CPUMoEBlock).
	MoEBlock int
	// Pipeline runs after the DSL (passes.InferencePipeline for the CPU's
	// inference; "" runs none: the module as the DSL builds it).
	Pipeline string
	Plugins  Plugins
	// PassOptions are --pass-option's key=value pairs; a moe-lower.moe-block
	// among them wins over MoEBlock.
	PassOptions []string
	// Module, when set, is the compiled module to run (a bundle's IR): no
	// model file is compiled.
	Module *ir.Module
	// Extend, when set, adds functions to the compiled module before its
	// weights are bound (grad adds the loss and its gradient).
	Extend func(*ir.Module) error
	// Quantized keeps block-quantized weights as loaded (a bundle's kernels
	// read fp8 values and scales) instead of dequantizing them once.
	Quantized bool
	// Diag receives progress (nil: discarded).
	Diag io.Writer
}

func (l *Load) diag() io.Writer {
	if l.Diag == nil {
		return io.Discard
	}
	return l.Diag
}

// Compile compiles the model file with the checkpoint's config.json and
// the overrides, then runs the pipeline.
func (l *Load) Compile() (*ir.Module, error) {
	m, _, err := l.compile()
	return m, err
}

// compile is Compile, also naming the passes that changed the params.
func (l *Load) compile() (*ir.Module, []string, error) {
	if l.Module != nil {
		return l.Module, nil, nil
	}
	start := time.Now()
	diag := l.diag()
	// The pipeline and its options first: a typo fails before anything
	// is read.
	pr, err := l.Plugins.Prepare(l.Pipeline, l.passOptions(), diag)
	if err != nil {
		return nil, nil, err
	}
	defer pr.Close()
	m, err := CompileWithCheckpoint(l.File, l.Checkpoint, l.Sets, diag)
	if err != nil {
		return nil, nil, err
	}
	ctx := pr.Context(diag)
	if err := passes.Run(ctx, m, pr.Pipeline); err != nil {
		return nil, nil, err
	}
	Record(pr.Plugins, m, diag)
	fmt.Fprintf(diag, "compiled %s in %.0f ms\n", m.Name, time.Since(start).Seconds()*1000)
	return m, pr.pluginPasses(ctx.ParamsChangedBy), nil
}

// passOptions are the options given, after moe-lower's block when the
// pipeline lowers experts (so that one given wins).
func (l *Load) passOptions() []string {
	block := l.MoEBlock
	if block == 0 {
		block = CPUMoEBlock
	}
	for _, name := range strings.Split(l.Pipeline, ",") {
		if strings.TrimSpace(name) == "moe-lower" {
			return append([]string{fmt.Sprintf("moe-lower.moe-block=%d", block)}, l.PassOptions...)
		}
	}
	return l.PassOptions
}

// ModelFor returns the model file to compile: file when given, else the
// embedded model whose checkpoint contract reads the architecture the
// checkpoint's config.json names, else (no architectures named)
// DefaultModel.
func ModelFor(file, dir string) (string, error) {
	f, _, err := modelFor(file, dir)
	return f, err
}

// modelFor is ModelFor, also saying when it fell back to DefaultModel
// because config.json names no architectures.
func modelFor(file, dir string) (string, bool, error) {
	if file != "" {
		return file, false, nil
	}
	if dir == "" {
		return DefaultModel, false, nil
	}
	data, err := readConfigJSON(dir)
	if err != nil {
		return "", false, err
	}
	// The exact key (encoding/json would match "Architectures" too), as
	// the contract's reader checks it.
	var cfg map[string]json.RawMessage
	var archs []string
	if json.Unmarshal(data, &cfg) == nil && cfg["architectures"] != nil && json.Unmarshal(cfg["architectures"], &archs) != nil {
		return "", false, fmt.Errorf("%s: architectures must be a list of strings", filepath.Join(dir, "config.json"))
	}
	if len(archs) == 0 {
		return DefaultModel, true, nil
	}
	for _, a := range archs {
		if f, ok := models.ForArchitecture(a); ok {
			return filepath.Join("models", f), false, nil
		}
	}
	// %.80q quotes at most 80 runes of each name: a hostile one is clipped.
	return "", false, fmt.Errorf("%s: no model file reads architectures %.80q (models/ has %s); name one", filepath.Join(dir, "config.json"), archs, strings.Join(models.Architectures(), ", "))
}

// readConfigJSON reads a checkpoint directory's config.json as a regular
// file inside it.
func readConfigJSON(dir string) ([]byte, error) {
	data, err := safefile.ReadInModel(dir, "config.json", safefile.Config)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checkpoint %s has no config.json (a Hugging Face checkpoint directory holds config.json and its safetensors)", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return data, nil
}

// CompileWithCheckpoint compiles the model file (ModelFor) with the
// checkpoint's config.json, read through the model's checkpoint contract
// (dsl.Options.FileSets; keys outside the contract are reported to diag),
// and the overrides, then checks the keys the contract fixes.
func CompileWithCheckpoint(file, dir string, sets []string, diag io.Writer) (*ir.Module, error) {
	file, fellBack, err := modelFor(file, dir)
	if err != nil {
		return nil, err
	}
	if fellBack {
		fmt.Fprintf(diag, "%s names no architectures; compiling %s\n", filepath.Join(dir, "config.json"), DefaultModel)
	}
	if dir == "" {
		return dsl.CompileFile(file, dsl.Options{Sets: sets, ReadFile: models.ReadFile})
	}
	path := filepath.Join(dir, "config.json")
	data, err := readConfigJSON(dir)
	if err != nil {
		return nil, err
	}
	base, err := dsl.CompileFile(file, dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		return nil, err
	}
	c, err := models.ContractOf(base)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	hs, warnings, err := c.Sets(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, w := range warnings {
		fmt.Fprintf(diag, "%s: %s\n", path, strings.TrimPrefix(w, "config.json: "))
	}
	fileSets := make([]dsl.FileSet, len(hs))
	for i, h := range hs {
		fileSets[i] = dsl.FileSet{File: path, Set: h.Set, Optional: h.Absent}
	}
	m, err := dsl.CompileFile(file, dsl.Options{FileSets: fileSets, Sets: sets, ReadFile: models.ReadFile})
	if err != nil {
		// The position is in the model file; the values came from here.
		return nil, fmt.Errorf("%w\n(compiling %s with the settings of %s)", err, file, path)
	}
	if err := models.Check(m, data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Model compiles the model and binds the checkpoint's weights, converted
// once for the precision mode (not on every decode step).
func (l *Load) Model() (*infer.Model, error) {
	m, changedBy, err := l.compile()
	if err != nil {
		return nil, err
	}
	if l.Extend != nil {
		if err := l.Extend(m); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	var opts []weights.Option
	if l.Mode == cpu.FP32 {
		opts = append(opts, weights.ExactValues())
	}
	opts = append(opts, weights.IgnoreTensors(models.CheckpointCopy), weights.WithUnexpected(func(names []string) {
		// Not an error (a checkpoint may carry buffers the model does not
		// read), but never silent: `deepc inspect` lists them all.
		shown := names[:min(len(names), 5)]
		more := ""
		if len(names) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(names)-len(shown))
		}
		fmt.Fprintf(l.diag(), "%s: %d tensors the model does not read: %s%s\n", l.Checkpoint, len(names), strings.Join(shown, ", "), more)
	}))
	if err := checkParamMemory(m, 1, "the weights of "+m.Name); err != nil {
		return nil, err
	}
	params, err := weights.Load(infer.Stored(m), l.Checkpoint, opts...)
	if err != nil {
		return nil, withParamChanges(err, changedBy)
	}
	loaded := len(params) // before the params derived from them (fused siblings)
	if err := infer.BindDerived(m, params); err != nil {
		return nil, err
	}
	if params, err = cpu.PrepareParams(m, params, l.Mode); err != nil {
		return nil, err
	}
	if !l.Quantized {
		params = cpu.DequantizeParams(params, l.Mode)
	}
	fmt.Fprintf(l.diag(), "loaded %d tensors from %s in %.0f ms\n", loaded, l.Checkpoint, time.Since(start).Seconds()*1000)
	return &infer.Model{Module: m, Params: params, Opts: cpu.Options{Mode: l.Mode, Workers: l.Workers}}, nil
}

// withParamChanges adds to a weight-loading error the plugin passes that
// changed the module's params: when a checkpoint no longer fits the
// module, they are where to look. (Built-in passes that change params,
// fuse-siblings, do it in ways the loader knows.)
func withParamChanges(err error, by []string) error {
	if len(by) == 0 {
		return err
	}
	return fmt.Errorf("%w\nparams changed by pass(es): %s", err, strings.Join(by, ", "))
}
