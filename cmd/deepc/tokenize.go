package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/runtime/tokenizer"
	"github.com/spf13/cobra"
)

const tokenizerFlagHelp = "a tokenizer.json, a directory holding one (a checkpoint), or byte[:N] for the byte-level tokenizer (N ids, default 258)"

func newTokenizeCmd(stdin io.Reader) *cobra.Command {
	var (
		spec       string
		asJSON     bool
		bos, eos   bool
		countsOnly bool
	)
	cmd := &cobra.Command{
		Use:   "tokenize --tokenizer TOKENIZER [--json] [TEXT | -]",
		Short: "Print the token ids of a text",
		Long: `tokenize prints the token ids of TEXT, separated by spaces, or as a JSON
array with --json. With - or no TEXT it reads the text from stdin, byte for
byte: a final newline is part of the text (use printf, or echo -n, to leave
it out).

Added and special tokens written in the text, such as <｜User｜> or
<｜end▁of▁sentence｜>, become their ids. No BOS or EOS is added unless
--bos or --eos asks for it.

--tokenizer takes a Hugging Face tokenizer.json (byte-level BPE, as
DeepSeek-V3 ships), a checkpoint directory with a tokenizer.json in it, or
"byte" for the byte-level tokenizer of tiny models (ids 0..255 are bytes,
256 is <bos>, 257 is <eos>; "byte:512" gives it 512 ids).

Examples:
  deepc tokenize --tokenizer ckpt/tokenizer.json "Hello, world!"
  deepc tokenize --tokenizer ckpt --json --bos "Hello, world!"
  printf 'def f():\n\treturn 1' | deepc tokenize --tokenizer ckpt -
  deepc tokenize --tokenizer byte "héllo"
  deepc forward --checkpoint ckpt --tokens "$(deepc tokenize --tokenizer ckpt --bos 'Hi')"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := openTokenizer(spec)
			if err != nil {
				return err
			}
			var text string
			if len(args) == 0 || args[0] == "-" {
				b, err := safefile.ReadStream(stdin, "stdin", safefile.Text)
				if err != nil {
					return fmt.Errorf("reading stdin: %w", err)
				}
				text = string(b)
			} else {
				text = args[0]
			}
			ids, err := tok.EncodeErr(text)
			if err != nil {
				return err
			}
			if bos {
				id, ok := tok.BOS()
				if !ok {
					return fmt.Errorf("--bos: the tokenizer has no BOS token")
				}
				ids = append([]int{id}, ids...)
			}
			if eos {
				id, ok := tok.EOS()
				if !ok {
					return fmt.Errorf("--eos: the tokenizer has no EOS token")
				}
				ids = append(ids, id)
			}
			out := cmd.OutOrStdout()
			if countsOnly {
				_, err := fmt.Fprintln(out, len(ids))
				return err
			}
			if asJSON {
				if ids == nil {
					ids = []int{}
				}
				b, err := json.Marshal(ids)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(out, string(b))
				return err
			}
			parts := make([]string, len(ids))
			for i, id := range ids {
				parts[i] = strconv.Itoa(id)
			}
			_, err = fmt.Fprintln(out, strings.Join(parts, " "))
			return err
		},
	}
	cmd.Flags().StringVar(&spec, "tokenizer", "", tokenizerFlagHelp)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	cmd.Flags().BoolVar(&bos, "bos", false, "prepend the BOS id")
	cmd.Flags().BoolVar(&eos, "eos", false, "append the EOS id")
	cmd.Flags().BoolVar(&countsOnly, "count", false, "print only the number of tokens")
	return cmd
}

func newDetokenizeCmd(stdin io.Reader) *cobra.Command {
	var (
		spec        string
		skipSpecial bool
	)
	cmd := &cobra.Command{
		Use:   "detokenize --tokenizer TOKENIZER [IDS... | -]",
		Short: "Print the text of token ids",
		Long: `detokenize prints the text that token ids stand for, exactly: it adds no
newline, so that tokenize and detokenize round-trip a file byte for byte.

The ids are the arguments, or stdin with - or no arguments. They may be
separated by spaces, commas or newlines, or written as one JSON array (what
tokenize --json prints). An id outside the vocabulary is an error.

Special tokens (BOS, EOS, padding) appear by name unless --skip-special.

--tokenizer takes the same values as for tokenize: a tokenizer.json, a
checkpoint directory, or byte[:N].

Examples:
  deepc detokenize --tokenizer ckpt/tokenizer.json 19923 14 2058 3
  deepc detokenize --tokenizer ckpt "[0, 19923, 14, 2058, 3]"
  deepc tokenize --tokenizer ckpt - < in.txt | deepc detokenize --tokenizer ckpt - > out.txt
  deepc detokenize --tokenizer byte --skip-special 256 104 105 257`,
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := openTokenizer(spec)
			if err != nil {
				return err
			}
			var src string
			if len(args) == 0 || len(args) == 1 && args[0] == "-" {
				b, err := safefile.ReadStream(stdin, "stdin", safefile.Text)
				if err != nil {
					return fmt.Errorf("reading stdin: %w", err)
				}
				src = string(b)
			} else {
				src = strings.Join(args, " ")
			}
			ids, err := tokenizer.ParseIDs(src)
			if err != nil {
				return err
			}
			text, err := tok.Decode(ids, tokenizer.DecodeOptions{SkipSpecial: skipSpecial})
			if err != nil {
				return err
			}
			_, err = io.WriteString(cmd.OutOrStdout(), text)
			return err
		},
	}
	cmd.Flags().StringVar(&spec, "tokenizer", "", tokenizerFlagHelp)
	cmd.Flags().BoolVar(&skipSpecial, "skip-special", false, "leave special tokens out of the text")
	return cmd
}

func openTokenizer(spec string) (tokenizer.Tokenizer, error) {
	if spec == "" {
		return nil, fmt.Errorf("--tokenizer is required: a tokenizer.json, a checkpoint directory, or byte")
	}
	return tokenizer.Open(spec)
}
