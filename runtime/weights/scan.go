package weights

import (
	"fmt"
	"math"
)

// ScanData reads every tensor's data and reports each that holds NaN or
// ±Inf (a NotFinite problem with the count and the first index): weights
// like that load and give all-NaN logits with exit 0 (issue 15). Data is
// read in chunks, so memory stays small for any checkpoint. progress, if
// not nil, is called after each tensor with the bytes read so far.
func (c *Checkpoint) ScanData(progress func(done, total int64)) ([]Problem, error) {
	var probs []Problem
	total, done := c.Bytes(), int64(0)
	const chunk = 1 << 22
	buf := make([]byte, chunk)
	vals := make([]float32, chunk)
	for _, f := range c.Shards {
		for _, t := range f.tensors {
			if _, ok := IRDType(t.DType); !ok {
				continue // Inspect reports it
			}
			size := int64(dtypeSizes[t.DType])
			step := chunk / size * size
			bad, first := int64(0), int64(-1)
			for off := int64(0); off < t.Size(); off += step {
				n := min(t.Size()-off, step)
				part := TensorInfo{Name: t.Name, Begin: t.Begin + off, End: t.Begin + off + n}
				if err := f.readAt(part, buf[:n]); err != nil {
					return probs, err
				}
				v := vals[:n/size]
				decode(t.DType, buf[:n], v)
				for i, x := range v {
					if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
						if first < 0 {
							first = off/size + int64(i)
						}
						bad++
					}
				}
			}
			if bad > 0 {
				probs = append(probs, Problem{Kind: NotFinite, Tensor: t.Name,
					Detail: fmt.Sprintf("%d of %d values are NaN or infinite (the first at flat index %d)", bad, t.Numel(), first)})
			}
			done += t.Size()
			if progress != nil {
				progress(done, total)
			}
		}
	}
	return probs, nil
}
