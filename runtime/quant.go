package runtime

import (
	"fmt"
	"math"
	"slices"

	"github.com/deepc-dev/deepc/ir"
)

// QuantizeBlocks quantizes a float tensor (rank >= 2) to float8_e4m3fn per
// block of the last two axes as DeepSeek-V3 does: scale = amax/448 per
// block (1 for an all-zero block), value = e4m3(x / scale) rounded to
// nearest even. The result has DType f8e4m3, Scale and Block.
func QuantizeBlocks(t *Tensor, block [2]int) (*Tensor, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	if !t.DType.IsFloat() || len(t.Shape) < 2 || block[0] <= 0 || block[1] <= 0 {
		return nil, fmt.Errorf("quantize: need a float tensor of rank >= 2 and a positive block, got %s %v, block %v", t.DType, t.Shape, block)
	}
	r := len(t.Shape)
	rows, cols := t.Shape[r-2], t.Shape[r-1]
	grid := ScaleGrid(t.Shape, block)
	out := &Tensor{DType: ir.F8E4M3, Shape: slices.Clone(t.Shape), F: make([]float32, len(t.F)), Block: block}
	out.Scale = &Tensor{DType: ir.F32, Shape: grid, F: make([]float32, (&Tensor{Shape: grid}).Numel())}
	rb, cb := grid[r-2], grid[r-1]
	mat := rows * cols
	for m := 0; mat > 0 && m < len(t.F)/mat; m++ {
		src, dst := t.F[m*mat:(m+1)*mat], out.F[m*mat:(m+1)*mat]
		for bi := range rb {
			for bj := range cb {
				r0, r1 := bi*block[0], min((bi+1)*block[0], rows)
				c0, c1 := bj*block[1], min((bj+1)*block[1], cols)
				var amax float32
				for i := r0; i < r1; i++ {
					for _, v := range src[i*cols+c0 : i*cols+c1] {
						amax = max(amax, float32(math.Abs(float64(v))))
					}
				}
				s := amax / E4M3Max
				if s == 0 {
					s = 1
				}
				out.Scale.F[(m*rb+bi)*cb+bj] = s
				for i := r0; i < r1; i++ {
					for j := c0; j < c1; j++ {
						dst[i*cols+j] = RoundE4M3(src[i*cols+j] / s)
					}
				}
			}
		}
	}
	return out, nil
}

// ScaleGrid is the shape of the scales of a tensor quantized per block of
// its last two axes.
func ScaleGrid(shape []int, block [2]int) []int {
	g := slices.Clone(shape)
	if len(g) >= 2 {
		g[len(g)-2] = (g[len(g)-2] + block[0] - 1) / block[0]
		g[len(g)-1] = (g[len(g)-1] + block[1] - 1) / block[1]
	}
	return g
}
