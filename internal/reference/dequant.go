package reference

// Dequant returns fp8[r][c] · scaleInv[r/128][c/128] for a [rows, cols]
// weight stored row-major; scaleInv is [ceil(rows/128), ceil(cols/128)]
// row-major, the edge blocks being partial (docs/model.md §5).
func Dequant(fp8 []float64, scaleInv []float64, rows, cols int) []float64 {
	const block = 128
	bc := (cols + block - 1) / block
	br := (rows + block - 1) / block
	if len(fp8) != rows*cols || len(scaleInv) != br*bc {
		panic("reference: Dequant: fp8 must hold rows·cols values and scaleInv ceil(rows/128)·ceil(cols/128)")
	}
	out := make([]float64, rows*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[r*cols+c] = fp8[r*cols+c] * scaleInv[(r/block)*bc+c/block]
		}
	}
	return out
}
