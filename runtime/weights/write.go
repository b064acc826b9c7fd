package weights

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// NamedTensor is a tensor to write under a checkpoint name.
type NamedTensor struct {
	Name string
	T    *runtime.Tensor
}

// The writer's layout: tensors in the order given, each fp8 weight with a
// Scale followed by its weight_scale_inv (F32); the header lists
// __metadata__ {"format": "pt"} first, then the tensors in data order, and
// is padded with spaces to a multiple of 8 bytes. Values are encoded with
// round to nearest even (F8_E4M3 saturating), so a tensor whose F already
// holds values of its dtype is written exactly.

type unit struct {
	name   string
	dtype  string
	shape  []int
	values []float32
	size   int64
}

// units expands tensors into what gets written (weights and their scales)
// and checks them.
func units(tensors []NamedTensor) ([]unit, error) {
	var out []unit
	seen := map[string]bool{}
	add := func(name, dtype string, t *runtime.Tensor) error {
		if seen[name] {
			return fmt.Errorf("tensor %q: written twice", name)
		}
		seen[name] = true
		if err := t.Check(); err != nil {
			return fmt.Errorf("tensor %q: %v", name, err)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("tensor %q: negative dim in shape %v", name, t.Shape)
			}
		}
		out = append(out, unit{name: name, dtype: dtype, shape: t.Shape, values: t.F, size: int64(t.Numel()) * dtypeSizes[dtype]})
		return nil
	}
	for _, nt := range tensors {
		if nt.T == nil {
			return nil, fmt.Errorf("tensor %q: nil", nt.Name)
		}
		dt, ok := STDType(nt.T.DType)
		if !ok {
			return nil, fmt.Errorf("tensor %q: dtype %s cannot be written (F32, BF16, F16, F8_E4M3 only)", nt.Name, nt.T.DType)
		}
		if err := add(nt.Name, dt, nt.T); err != nil {
			return nil, err
		}
		if s := nt.T.Scale; s != nil {
			if nt.T.DType != ir.F8E4M3 {
				return nil, fmt.Errorf("tensor %q: a %s tensor with a Scale (only f8e4m3 weights have one)", nt.Name, nt.T.DType)
			}
			if grid := ScaleGrid(nt.T.Shape, nt.T.Block); nt.T.Block[0] <= 0 || nt.T.Block[1] <= 0 || !slices.Equal(s.Shape, grid) {
				return nil, fmt.Errorf("tensor %q: scale shape %v does not fit shape %v in %v blocks", nt.Name, s.Shape, nt.T.Shape, nt.T.Block)
			}
			if err := add(ScaleName(nt.Name), F32, s); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Encode returns a whole safetensors file holding the tensors.
func Encode(tensors []NamedTensor) ([]byte, error) {
	us, err := units(tensors)
	if err != nil {
		return nil, err
	}
	// Sized up front: growing a checkpoint-sized buffer by doubling, and
	// copying it out of a strings.Builder, cost more than encoding it.
	size := int64(8 + len(header(us)))
	for _, u := range us {
		size += u.size
	}
	var b bytes.Buffer
	b.Grow(int(size))
	if err := writeFile(&b, us); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// header builds the padded JSON header for units in order.
func header(us []unit) []byte {
	var b strings.Builder
	b.WriteString(`{"__metadata__":{"format":"pt"}`)
	var off int64
	for _, u := range us {
		name, _ := json.Marshal(u.name)
		shape, _ := json.Marshal(u.shape)
		if u.shape == nil {
			shape = []byte("[]")
		}
		fmt.Fprintf(&b, `,%s:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, name, u.dtype, shape, off, off+u.size)
		off += u.size
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return []byte(b.String())
}

func writeFile(w io.Writer, us []unit) error {
	h := header(us)
	bw := bufio.NewWriterSize(w, 1<<20)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(h)))
	bw.Write(n[:])
	bw.Write(h)
	buf := make([]byte, 0, 1<<16)
	for _, u := range us {
		for i := 0; i < len(u.values); i += 1 << 14 {
			buf = encode(u.dtype, u.values[i:min(i+1<<14, len(u.values))], buf[:0])
			if _, err := bw.Write(buf); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

// writeAtomic writes a file through a temporary in the same directory.
func writeAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteBytes writes data to path through a temporary file renamed into
// place, so that a link at path is replaced, never written through.
func WriteBytes(path string, data []byte) error {
	return writeAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// WriteFile writes one safetensors file.
func WriteFile(path string, tensors []NamedTensor) error {
	us, err := units(tensors)
	if err != nil {
		return err
	}
	return writeAtomic(path, func(w io.Writer) error { return writeFile(w, us) })
}

// ShardName is the file name of shard i (0-based) of n, as Hugging Face
// names them: model-00001-of-00003.safetensors.
func ShardName(i, n int) string { return fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, n) }

// WriteCheckpoint writes tensors as a Hugging Face checkpoint in dir
// (created if needed): shards == 1 writes model.safetensors; shards > 1
// splits the tensors, in order and by size, into that many files (fewer
// when there are fewer tensors), each weight in the same shard as its
// scale, plus model.safetensors.index.json. It removes the one of
// model.safetensors / the index that it does not write, so the directory
// never holds both. The output is deterministic.
func WriteCheckpoint(dir string, tensors []NamedTensor, shards int) error {
	if shards < 1 {
		return fmt.Errorf("write checkpoint: %d shards", shards)
	}
	us, err := units(tensors)
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Group each weight with its scale: the unit after a weight is its
	// scale when so named.
	var groups [][]unit
	for i := 0; i < len(us); i++ {
		g := []unit{us[i]}
		if i+1 < len(us) && us[i+1].name == ScaleName(us[i].name) && us[i].dtype == F8E4M3 {
			g = append(g, us[i+1])
			i++
		}
		groups = append(groups, g)
	}
	shards = max(1, min(shards, len(groups)))
	if shards == 1 {
		if err := removeIfExists(filepath.Join(dir, IndexFile)); err != nil {
			return err
		}
		return writeAtomic(filepath.Join(dir, SingleFile), func(w io.Writer) error { return writeFile(w, us) })
	}
	if err := removeIfExists(filepath.Join(dir, SingleFile)); err != nil {
		return err
	}
	var total int64
	for _, g := range groups {
		for _, u := range g {
			total += u.size
		}
	}
	weightMap := map[string]string{}
	var cum int64
	i := 0
	for s := range shards {
		start := i
		limit := int64(float64(total) * float64(s+1) / float64(shards))
		var part []unit
		for i < len(groups) && len(groups)-i > shards-1-s {
			var size int64
			for _, u := range groups[i] {
				size += u.size
			}
			if i > start && s < shards-1 && cum+size > limit {
				break
			}
			cum += size
			part = append(part, groups[i]...)
			i++
		}
		name := ShardName(s, shards)
		for _, u := range part {
			weightMap[u.name] = name
		}
		if err := writeAtomic(filepath.Join(dir, name), func(w io.Writer) error { return writeFile(w, part) }); err != nil {
			return err
		}
	}
	index := struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}{map[string]int64{"total_size": total}, weightMap}
	data, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	return writeAtomic(filepath.Join(dir, IndexFile), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// QuantizeBlocks is runtime.QuantizeBlocks (DeepSeek-V3's per-block fp8
// quantization), here for the checkpoint writers.
func QuantizeBlocks(t *runtime.Tensor, block [2]int) (*runtime.Tensor, error) {
	return runtime.QuantizeBlocks(t, block)
}

// Dequantize returns the f32 values of a block-quantized tensor (value ·
// scale of its block); a tensor without Scale is returned as f32 values.
func Dequantize(t *runtime.Tensor) *runtime.Tensor {
	out := &runtime.Tensor{DType: ir.F32, Shape: slices.Clone(t.Shape), F: slices.Clone(t.F)}
	if t.Scale == nil || len(t.Shape) < 2 {
		return out
	}
	r := len(t.Shape)
	rows, cols := t.Shape[r-2], t.Shape[r-1]
	grid := ScaleGrid(t.Shape, t.Block)
	rb, cb := grid[r-2], grid[r-1]
	mat := rows * cols
	if mat == 0 {
		return out
	}
	for m := 0; m < len(t.F)/mat; m++ {
		for i := range rows {
			for j := range cols {
				out.F[m*mat+i*cols+j] *= t.Scale.F[(m*rb+i/t.Block[0])*cb+j/t.Block[1]]
			}
		}
	}
	return out
}

// Checkpoint formats RandomCheckpoint writes.
const (
	FormatF32  = "f32"  // every tensor F32
	FormatBF16 = "bf16" // F32 params stay F32, F16 ones F16, the rest BF16
	FormatFP8  = "fp8"  // params with a quant attribute: F8_E4M3 + weight_scale_inv; the rest their own dtype
)

// RandomTensors makes deterministic random weights for every param of m,
// under the checkpoint names (a stacked param becomes one tensor per
// expert). Values, drawn per tensor from a stream seeded by (seed, name):
// init ones → 1 + 0.05·N(0,1) (norms near 1); init zeros → 0.02·N(0,1)
// (biases small but nonzero so routing tests see them); other rank >= 2
// weights → N(0, 1/fan_in) with fan_in the last dim (so activations keep
// their scale through a forward pass); other rank-1 → 0.02·N(0,1).
func RandomTensors(m *ir.Module, seed int64, format string) ([]NamedTensor, error) {
	switch format {
	case FormatF32, FormatBF16, FormatFP8:
	default:
		return nil, fmt.Errorf("random checkpoint: unknown format %q (want f32, bf16 or fp8)", format)
	}
	var out []NamedTensor
	for _, p := range m.Params {
		dt := p.Type.DType
		if !dt.IsFloat() || dt == ir.F8E5M2 {
			return nil, fmt.Errorf("random checkpoint: param %s has dtype %s, not a checkpoint float", p.Name, dt)
		}
		var shape []int
		for _, d := range p.Type.Shape {
			if d.IsSym() {
				return nil, fmt.Errorf("random checkpoint: param %s has a symbolic shape %s", p.Name, p.Type.Shape)
			}
			shape = append(shape, int(d.N))
		}
		names := []string{p.Name}
		if strings.Contains(p.Name, ExpertPlaceholder) {
			if len(shape) == 0 {
				return nil, fmt.Errorf("random checkpoint: stacked param %s is a scalar", p.Name)
			}
			names = nil
			for e := range shape[0] {
				names = append(names, ExpertName(p.Name, e))
			}
			shape = shape[1:]
		}
		q, quant := p.Attrs.Ints("quant")
		dist := ""
		if init, ok := p.Attrs.Dict("init"); ok {
			dist, _ = init.Str("dist")
		}
		for _, name := range names {
			t := &runtime.Tensor{DType: ir.F32, Shape: slices.Clone(shape)}
			t.F = make([]float32, t.Numel())
			fill(t, dist, seed, name)
			st, err := storedAs(t, dt, q, quant, format)
			if err != nil {
				return nil, fmt.Errorf("random checkpoint: %s: %v", name, err)
			}
			out = append(out, NamedTensor{Name: name, T: st})
		}
	}
	return out, nil
}

// storedAs converts f32 values t (modified in place) to what a checkpoint
// of format holds for a param of dtype dt with block quantization q:
// f32 as is; fp8 weights quantized per block with scales; other floats
// rounded to bf16 or f16.
func storedAs(t *runtime.Tensor, dt ir.DType, q []int64, quant bool, format string) (*runtime.Tensor, error) {
	switch {
	case dt == ir.F32 || format == FormatF32:
		t.DType = ir.F32
	case format == FormatFP8 && dt == ir.F8E4M3 && quant && len(q) == 2 && len(t.Shape) >= 2:
		return QuantizeBlocks(t, [2]int{int(q[0]), int(q[1])})
	case format == FormatFP8 && dt == ir.F8E4M3:
		t.DType = ir.F8E4M3
	case dt == ir.F16:
		t.DType = ir.F16
	default:
		t.DType = ir.BF16
	}
	roundTo(t)
	return t, nil
}

// StoredTensors are the checkpoint tensors of m's params from f32 values
// (a training run's master weights) in format (FormatF32, FormatBF16 or
// FormatFP8): stacked experts split, each converted as RandomTensors
// does. Params without a value in params are skipped.
func StoredTensors(m *ir.Module, params map[string]*runtime.Tensor, format string, skip func(name string) bool) ([]NamedTensor, error) {
	var out []NamedTensor
	for _, p := range m.Params {
		t, ok := params[p.Name]
		if !ok || (skip != nil && skip(p.Name)) {
			continue
		}
		if !t.DType.IsFloat() || t.Scale != nil {
			return nil, fmt.Errorf("param %s: want plain float values, got %s", p.Name, t.DType)
		}
		q, quant := p.Attrs.Ints("quant")
		parts := []NamedTensor{{Name: p.Name, T: t}}
		if strings.Contains(p.Name, ExpertPlaceholder) {
			parts = nil
			per := t.Numel() / max(t.Shape[0], 1)
			for e := 0; e < t.Shape[0]; e++ {
				parts = append(parts, NamedTensor{Name: ExpertName(p.Name, e), T: &runtime.Tensor{Shape: slices.Clone(t.Shape[1:]), F: t.F[e*per : (e+1)*per]}})
			}
		}
		for _, part := range parts {
			c := &runtime.Tensor{DType: ir.F32, Shape: slices.Clone(part.T.Shape), F: slices.Clone(part.T.F)}
			st, err := storedAs(c, p.Type.DType, q, quant, format)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", part.Name, err)
			}
			out = append(out, NamedTensor{Name: part.Name, T: st})
		}
	}
	return out, nil
}

// roundTo makes t's values representable in its dtype.
func roundTo(t *runtime.Tensor) {
	var r func(float32) float32
	switch t.DType {
	case ir.BF16:
		r = roundBF16
	case ir.F16:
		r = roundF16
	case ir.F8E4M3:
		r = roundE4M3
	default:
		return
	}
	for i, v := range t.F {
		t.F[i] = r(v)
	}
}

func fill(t *runtime.Tensor, dist string, seed int64, name string) {
	h := fnv.New64a()
	h.Write([]byte(name))
	rng := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
	mean, std := 0.0, 0.02
	switch {
	case dist == "ones":
		mean, std = 1, 0.05
	case dist == "zeros":
	case len(t.Shape) >= 2 && t.Shape[len(t.Shape)-1] > 0:
		std = 1 / math.Sqrt(float64(t.Shape[len(t.Shape)-1]))
	}
	for i := range t.F {
		t.F[i] = float32(mean + std*rng.NormFloat64())
	}
}

// RandomCheckpoint writes RandomTensors(m, seed, format) to dir in the
// given number of shards (see WriteCheckpoint).
func RandomCheckpoint(m *ir.Module, dir string, seed int64, format string, shards int) error {
	ts, err := RandomTensors(m, seed, format)
	if err != nil {
		return err
	}
	return WriteCheckpoint(dir, ts, shards)
}
