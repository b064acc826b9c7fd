package main

import (
	"fmt"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/runtime/gguf"
	"github.com/spf13/cobra"
)

func newExportCmd() *cobra.Command {
	var (
		checkpoint, model, format, typ, out, tok string
		sets                                     []string
	)
	cmd := &cobra.Command{
		Use:   "export CHECKPOINT -o FILE.gguf",
		Short: "Write a checkpoint as a GGUF file for llama.cpp, Ollama or LM Studio",
		Long: `export writes a DeepSeek-V3 or DeepSeek-V2 checkpoint (a Hugging Face
directory: config.json + safetensors) as one GGUF file in llama.cpp's
"deepseek2" architecture: MLA split for its absorbed path (attn_k_b,
attn_v_b), experts stacked, sigmoid or softmax routing with the
correction bias and expert groups, YaRN, and a tokenizer section from the
checkpoint's tokenizer.json (or the byte-level tokenizer of deepc's tiny
models). MTP layers are left out, as llama.cpp's own converter does.

--type stores the weight matrices as f32, f16, bf16 or q8_0 (fp8
checkpoints are dequantized first); norms and the router stay f32.
A model llama.cpp cannot compute exactly (V2-style group-limited softmax
routing, YaRN with mscale != mscale_all_dim) is refused with the reason.
An existing output is replaced only when it is a GGUF file.

Examples:
  deepc export tiny/ -o tiny.gguf
  deepc export /data/DeepSeek-V3 --type q8_0 -o dsv3-q8_0.gguf`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if checkpoint != "" && checkpoint != args[0] {
					return fmt.Errorf("two checkpoints: %s and --checkpoint %s", args[0], checkpoint)
				}
				checkpoint = args[0]
			}
			if checkpoint == "" {
				return fmt.Errorf("name the checkpoint directory (deepc export DIR -o FILE.gguf)")
			}
			if format != "gguf" {
				return fmt.Errorf("--format %q: deepc exports gguf", format)
			}
			if out == "" {
				return fmt.Errorf("-o FILE.gguf is required")
			}
			t, err := gguf.ParseTensorType(typ)
			if err != nil {
				return fmt.Errorf("--type: %w", err)
			}
			x := driver.ExportGGUF{
				Load: driver.Load{File: model, Checkpoint: checkpoint, Sets: sets, Diag: cmd.ErrOrStderr()},
				Out:  out, Type: t, Tokenizer: tok,
			}
			return x.Run(cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&checkpoint, "checkpoint", "", "the checkpoint directory (or give it as the argument)")
	fl.StringVar(&model, "model", "", "the model file whose params the checkpoint holds (default "+driver.DefaultModel+")")
	fl.StringArrayVar(&sets, "set", nil, "override a config value after config.json: key=value (repeatable)")
	fl.StringVar(&format, "format", "gguf", "output format (gguf)")
	fl.StringVar(&typ, "type", "f32", "weight matrices' type: f32, f16, bf16 or q8_0")
	fl.StringVarP(&out, "out", "o", "", "the GGUF file to write")
	fl.StringVar(&tok, "tokenizer", "", "tokenizer spec: FILE, DIR or byte:N (default: the checkpoint's tokenizer.json, else byte-level)")
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"f32", "f16", "bf16", "q8_0"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}
