package ir

// quantize_blocks makes a block-quantized fp8 tensor: FP8 training
// quantizes master weights (and, for the weight gradient, activations)
// before each GEMM as docs/model.md §5 prescribes.

// OpQuantizeBlocks is quantize_blocks.
var OpQuantizeBlocks = declare(&OpDef{Name: "quantize_blocks", Kind: Opaque, Args: 1, Attrs: []string{"block"}, Doc: "x (rank ≥ 2) in f8e4m3 with one f32 scale per block [b0, b1] of the last two axes: scale = amax/448, value = e4m3(x/scale), round to nearest even (its gradient passes straight through)", Infer: inferQuantizeBlocks, FLOPs: perElement(2)})

func inferQuantizeBlocks(a []Type, at Attrs) ([]Type, error) {
	x := a[0]
	b, ok := at.Ints("block")
	if !ok || len(b) != 2 || b[0] <= 0 || b[1] <= 0 {
		return nil, errf("attribute block must be two positive integers")
	}
	if !x.DType.IsFloat() || len(x.Shape) < 2 {
		return nil, errf("x must be a float tensor of rank >= 2, got %s", x)
	}
	return one(Type{x.Shape, F8E4M3}), nil
}
