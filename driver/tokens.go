package driver

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/npy"
)

// ParseTokens reads "1 2 3,4 5 6" or @file.json (a JSON array of arrays).
func ParseTokens(s string) ([][]int, error) {
	var seqs [][]int
	if path, ok := strings.CutPrefix(s, "@"); ok {
		b, err := safefile.ReadFile(path, safefile.Tokens)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &seqs); err != nil {
			return nil, fmt.Errorf("%s: want a JSON array of arrays of token ids: %v", path, err)
		}
	} else {
		for i, part := range strings.Split(s, ",") {
			var seq []int
			for _, f := range strings.Fields(part) {
				id, err := strconv.Atoi(f)
				if err != nil {
					return nil, fmt.Errorf("--tokens: sequence %d: %q is not a token id", i+1, f)
				}
				seq = append(seq, id)
			}
			seqs = append(seqs, seq)
		}
	}
	if len(seqs) == 0 || len(seqs[0]) == 0 {
		return nil, fmt.Errorf("--tokens: no tokens")
	}
	for i, seq := range seqs {
		if len(seq) != len(seqs[0]) {
			return nil, fmt.Errorf("--tokens: sequence %d has %d tokens, sequence 1 has %d (sequences must have equal length)", i+1, len(seq), len(seqs[0]))
		}
		for _, id := range seq {
			if id < 0 {
				return nil, fmt.Errorf("--tokens: sequence %d: negative token id %d", i+1, id)
			}
		}
	}
	return seqs, nil
}

// WriteLogits writes every position's logits as float32 [batch, seq, vocab].
func WriteLogits(out string, seqs [][]int, logits infer.Logits) error {
	data := make([]float32, 0, len(seqs)*len(seqs[0])*logits.Vocab)
	for _, s := range logits.Rows {
		for _, row := range s {
			data = append(data, row...)
		}
	}
	fh, err := safefile.Create(out, safefile.NPY)
	if err != nil {
		return err
	}
	if err := npy.WriteFloat32(fh, []int{len(seqs), len(seqs[0]), logits.Vocab}, data); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}
