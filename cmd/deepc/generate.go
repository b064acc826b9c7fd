package main

import (
	"fmt"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/tokenizer"
	"github.com/spf13/cobra"
)

func newGenerateCmd() *cobra.Command {
	var (
		mf       modelFlags
		prompts  []string
		tokSpec  string
		maxToks  int
		sampling infer.Sampling
		spec     string
	)
	cmd := &cobra.Command{
		Use:   "generate [MODEL.deep] --checkpoint DIR --prompt TEXT",
		Short: "Generate text from a checkpoint on the CPU",
		Long: `generate compiles the model (by default the models/ file whose checkpoint
contract reads the architecture config.json names, e.g. LlamaForCausalLM →
models/llama3.deep; ` + driver.DefaultModel + ` when config.json names no
architectures) with the
checkpoint's config.json, loads the weights, prefills the prompt(s) and
decodes token by token over the KV cache. With one prompt the text
streams to stdout; with several (repeat --prompt) they decode as one batch
and each completion prints when done. Prefill and decode speeds go to
stderr.

The tokenizer is DIR/tokenizer.json when present, else the byte-level
tokenizer (for tiny demo models); --tokenizer overrides.

Examples:
  deepc generate --checkpoint /data/DeepSeek-V3 --prompt "The capital of France is" --max-tokens 20
  deepc generate models/deepseek_v3_tiny.deep --checkpoint tiny/ --prompt "hello" --temperature 0.8 --top-p 0.9 --seed 1
  deepc generate --checkpoint ckpt/ --prompt "a" --prompt "b" --max-tokens 8
  deepc generate --checkpoint ckpt/ --prompt "a" --speculative mtp
  deepc generate --checkpoint llama/ --prompt "a b a b a" --speculative lookup`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(prompts) == 0 {
				return fmt.Errorf("--prompt is required")
			}
			// Every flag is checked before minutes of loading.
			if err := (infer.GenerateOptions{MaxTokens: maxToks, Sampling: sampling}).Check(); err != nil {
				return err
			}
			if spec != "" && spec != "mtp" && spec != "lookup" {
				return fmt.Errorf("--speculative %q: the kinds are mtp and lookup", spec)
			}
			diag := cmd.ErrOrStderr()
			model, err := mf.load(args, diag)
			if err != nil {
				return err
			}
			tok, err := driver.GenerationTokenizer(tokSpec, mf.checkpoint, model)
			if err != nil {
				return err
			}
			var ids [][]int
			for i, p := range prompts {
				seq, err := tok.EncodeErr(p)
				if err != nil {
					return fmt.Errorf("prompt %d: %w", i+1, err)
				}
				if bos, ok := tok.BOS(); ok {
					seq = append([]int{bos}, seq...)
				}
				ids = append(ids, seq)
			}
			eos, ok := tok.EOS()
			if !ok {
				eos = -1
			}
			out := cmd.OutOrStdout()
			var stream *driver.Streamer
			if len(prompts) == 1 {
				stream = &driver.Streamer{W: out, Tok: tok}
				fmt.Fprint(out, prompts[0])
			}
			opts := infer.GenerateOptions{MaxTokens: maxToks, Sampling: sampling, EOS: eos}
			if stream != nil {
				opts.OnToken = func(_, id int) { stream.Add(id, eos) }
			}
			var gen [][]int
			var st infer.GenerateStats
			switch spec {
			case "":
				gen, st, err = model.Generate(ids, opts)
			case "mtp":
				if model.Module.Func("mtp_decode") == nil {
					return fmt.Errorf("--speculative mtp: the model has no MTP module (mtp_depth = 0, or depth > 1)")
				}
				var sp infer.SpeculativeStats
				gen, st, sp, err = model.GenerateSpeculative(ids, opts)
				defer fmt.Fprintf(diag, "mtp speculation: %d of %d drafts accepted (%.1f%%)\n", sp.Accepted, sp.Drafted, 100*sp.AcceptanceRate())
			case "lookup":
				var sp infer.SpeculativeStats
				gen, st, sp, err = model.GenerateLookup(ids, opts)
				defer fmt.Fprintf(diag, "lookup speculation: %d of %d drafts accepted (%.1f%%)\n", sp.Accepted, sp.Drafted, 100*sp.AcceptanceRate())
			}
			if err != nil {
				return err
			}
			if stream != nil {
				stream.Flush()
				fmt.Fprintln(out)
			} else {
				for i, g := range gen {
					text, err := tok.Decode(driver.TrimEOS(g, eos), tokenizer.DecodeOptions{SkipSpecial: true})
					if err != nil {
						return err
					}
					fmt.Fprintf(out, "[%d] %s%s\n", i+1, prompts[i], text)
				}
			}
			fmt.Fprintf(diag, "prefill: %d tokens, %.1f tokens/s; decode: %d tokens, %.1f tokens/s\n",
				st.PrefillTokens, infer.Rate(st.PrefillTokens, st.Prefill), st.DecodeTokens, infer.Rate(st.DecodeTokens, st.Decode))
			return nil
		},
	}
	mf.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&prompts, "prompt", nil, "prompt text (repeat for a batch)")
	fl.StringVar(&tokSpec, "tokenizer", "", "tokenizer.json path, or byte / byte:N (default: DIR/tokenizer.json, else byte-level)")
	fl.IntVar(&maxToks, "max-tokens", 32, "tokens to generate per prompt")
	fl.Float64Var(&sampling.Temperature, "temperature", 0, "sampling temperature; 0 is greedy")
	fl.Float64Var(&sampling.TopP, "top-p", 1, "nucleus sampling: keep the most likely tokens up to this probability")
	fl.Uint64Var(&sampling.Seed, "seed", 0, "random seed for sampling")
	fl.StringVar(&spec, "speculative", "", "speculative decoding: mtp drafts the token after next with the MTP module; lookup drafts the tokens that followed the latest earlier occurrence of the last few tokens (any model)")
	return cmd
}
