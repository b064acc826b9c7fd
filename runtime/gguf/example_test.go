package gguf_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/deepc-dev/deepc/runtime/gguf"
)

func ExampleWrite() {
	var buf bytes.Buffer
	err := gguf.Write(&buf,
		[]gguf.KV{
			{Key: "general.architecture", Value: "llama"},
			{Key: "llama.context_length", Value: uint32(2048)},
			{Key: "tokenizer.ggml.tokens", Value: gguf.Array{Elem: gguf.TypeString, Values: []string{"<s>", "</s>", "hi"}}},
		},
		[]gguf.TensorSpec{{
			// A row-major 2×3 matrix: ne = {cols, rows}.
			Name: "w", Dims: []int64{3, 2}, Type: gguf.F16,
			Values: func() ([]float32, error) { return []float32{1, 2, 3, 4, 5, 0.1}, nil },
		}})
	if err != nil {
		log.Fatal(err)
	}

	f, err := gguf.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	arch, _ := f.Get("general.architecture")
	ctx, _ := f.Get("llama.context_length")
	toks, _ := f.Get("tokenizer.ggml.tokens")
	fmt.Println(arch, ctx, toks.(gguf.Array).Values)
	w, _ := f.Tensor("w")
	vals, err := f.Values(w)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.Name, w.Dims, w.Type, w.Size, "bytes at", f.DataOffset+w.Offset)
	fmt.Println(vals)
	// Output:
	// llama 2048 [<s> </s> hi]
	// w [3 2] F16 12 bytes at 224
	// [1 2 3 4 5 0.099975586]
}
