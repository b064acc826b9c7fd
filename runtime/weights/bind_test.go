package weights

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

var quant = ir.Attrs{"quant": []int64{128, 128}}

func param(name string, dt ir.DType, attrs ir.Attrs, shape ...int64) *ir.Param {
	return &ir.Param{Name: name, Type: ir.Type{Shape: ir.Consts(shape...), DType: dt}, Attrs: attrs}
}

// testModule has a partial-block fp8 weight, stacked fp8 experts with
// partial blocks on both axes, and unquantized params.
func testModule() *ir.Module {
	return &ir.Module{Name: "test", Params: []*ir.Param{
		param("w.weight", ir.F8E4M3, quant, 130, 200),
		param("experts.{e}.w", ir.F8E4M3, quant, 3, 129, 257),
		param("norm.weight", ir.BF16, nil, 5),
		param("bias", ir.F32, nil, 4),
		param("plain.weight", ir.BF16, nil, 6, 4),
	}}
}

func randTensor(dt ir.DType, seed int64, name string, shape ...int) *runtime.Tensor {
	t := &runtime.Tensor{DType: dt, Shape: shape}
	t.F = make([]float32, t.Numel())
	fill(t, "normal", seed, name)
	roundTo(t)
	return t
}

func quantized(t *testing.T, seed int64, name string, shape ...int) *runtime.Tensor {
	q, err := QuantizeBlocks(randTensor(ir.F32, seed, name, shape...), [2]int{128, 128})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// testTensors is a checkpoint for testModule: fp8 with scales.
func testTensors(t *testing.T) []NamedTensor {
	ts := []NamedTensor{{"w.weight", quantized(t, 1, "w", 130, 200)}}
	for e := range 3 {
		ts = append(ts, NamedTensor{fmt.Sprintf("experts.%d.w", e), quantized(t, 1, fmt.Sprint(e), 129, 257)})
	}
	return append(ts,
		NamedTensor{"norm.weight", randTensor(ir.BF16, 1, "n", 5)},
		NamedTensor{"bias", randTensor(ir.F32, 1, "b", 4)},
		NamedTensor{"plain.weight", randTensor(ir.BF16, 1, "p", 6, 4)},
	)
}

func writeCkpt(t *testing.T, ts []NamedTensor, shards int) string {
	t.Helper()
	dir := t.TempDir()
	if err := WriteCheckpoint(dir, ts, shards); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadStackedPartialBlocks(t *testing.T) {
	ts := testTensors(t)
	for _, shards := range []int{1, 3} {
		dir := writeCkpt(t, ts, shards)
		var prog []Progress
		got, err := Load(testModule(), dir, WithProgress(func(p Progress) { prog = append(prog, p) }), WithWorkers(2))
		if err != nil {
			t.Fatal(err)
		}
		assertTensor(t, "w.weight", got["w.weight"], ts[0].T)
		w := got["w.weight"]
		if !slices.Equal(w.Scale.Shape, []int{2, 2}) || w.Block != [2]int{128, 128} {
			t.Errorf("w.weight scale %v block %v", w.Scale.Shape, w.Block)
		}
		// Stacked: values and scales are the per-expert tensors end to end.
		ex := got["experts.{e}.w"]
		if ex.DType != ir.F8E4M3 || !slices.Equal(ex.Shape, []int{3, 129, 257}) || !slices.Equal(ex.Scale.Shape, []int{3, 2, 3}) {
			t.Fatalf("experts: %s %v scale %v", ex.DType, ex.Shape, ex.Scale.Shape)
		}
		for e := range 3 {
			want := ts[1+e].T
			n, ns := len(want.F), len(want.Scale.F)
			if !slices.Equal(ex.F[e*n:(e+1)*n], want.F) || !slices.Equal(ex.Scale.F[e*ns:(e+1)*ns], want.Scale.F) {
				t.Errorf("expert %d differs", e)
			}
		}
		// Dequantised values stay within fp8's relative error of the block max.
		deq := Dequantize(ex)
		orig := randTensor(ir.F32, 1, "2", 129, 257)
		off := 2 * 129 * 257
		for i, v := range orig.F {
			r, c := i/257, i%257
			amax := ex.Scale.F[2*6+(r/128)*3+c/128] * 448
			if d := math.Abs(float64(deq.F[off+i] - v)); d > float64(amax)/16 {
				t.Fatalf("expert 2 [%d,%d]: %g vs %g", r, c, deq.F[off+i], v)
			}
		}
		if len(prog) != 5 || prog[4].Done != 5 || prog[4].Total != 5 || prog[4].Bytes != prog[4].TotalSize {
			t.Errorf("progress %+v", prog)
		}
		for i, p := range prog {
			if p.Done != i+1 {
				t.Errorf("progress %d: done %d", i, p.Done)
			}
		}
		c, _ := OpenCheckpoint(dir)
		lp, err := c.LoadParam(testModule().Params[1])
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		assertTensor(t, "LoadParam experts", lp, ex)
	}
}

func TestLoadConversions(t *testing.T) {
	f32 := func(name string, shape ...int) *runtime.Tensor {
		x := randTensor(ir.F32, 7, name, shape...)
		for i := range x.F {
			x.F[i] += 1.0 / (1 << 20) // not bf16-representable
		}
		return x
	}
	as := func(dt ir.DType, x *runtime.Tensor) *runtime.Tensor {
		y := &runtime.Tensor{DType: dt, Shape: x.Shape, F: slices.Clone(x.F)}
		roundTo(y)
		return y
	}
	m := &ir.Module{Name: "conv", Params: []*ir.Param{
		param("bf16_from_f32", ir.BF16, nil, 3, 3),
		param("bf16_from_f16", ir.BF16, nil, 10),
		param("f32_from_bf16", ir.F32, nil, 4),
		param("fp8_from_bf16", ir.F8E4M3, quant, 5, 6),
		param("fp8_from_f32", ir.F8E4M3, quant, 5, 6),
		param("fp8_plain", ir.F8E4M3, nil, 2, 2),
		param("fp8_noquant_scaled", ir.F8E4M3, nil, 2, 2),
	}}
	src := map[string]*runtime.Tensor{
		"bf16_from_f32": f32("a", 3, 3),
		"bf16_from_f16": as(ir.F16, f32("b", 10)),
		"f32_from_bf16": as(ir.BF16, f32("c", 4)),
		"fp8_from_bf16": as(ir.BF16, f32("d", 5, 6)),
		"fp8_from_f32":  f32("e", 5, 6),
		"fp8_plain":     as(ir.F8E4M3, f32("f", 2, 2)),
	}
	src["fp8_noquant_scaled"] = as(ir.F8E4M3, f32("g", 2, 2))
	src["fp8_noquant_scaled"].Scale = &runtime.Tensor{DType: ir.F32, Shape: []int{1, 1}, F: []float32{0.25}}
	src["fp8_noquant_scaled"].Block = [2]int{128, 128}
	var ts []NamedTensor
	for _, p := range m.Params {
		ts = append(ts, NamedTensor{p.Name, src[p.Name]})
	}
	got, err := Load(m, writeCkpt(t, ts, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*runtime.Tensor{
		"bf16_from_f32":      as(ir.BF16, src["bf16_from_f32"]),
		"bf16_from_f16":      as(ir.BF16, src["bf16_from_f16"]),
		"f32_from_bf16":      as(ir.F32, src["f32_from_bf16"]),
		"fp8_from_bf16":      src["fp8_from_bf16"], // kept unquantized, bf16
		"fp8_from_f32":       src["fp8_from_f32"],  // kept unquantized, f32
		"fp8_plain":          src["fp8_plain"],
		"fp8_noquant_scaled": src["fp8_noquant_scaled"],
	}
	for name, w := range want {
		assertTensor(t, name, got[name], w)
	}
	if slices.Equal(got["bf16_from_f32"].F, src["bf16_from_f32"].F) {
		t.Error("f32 data for a bf16 param was not rounded")
	}
}

func problemSet(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Kind.String()+" "+p.Tensor)
	}
	slices.Sort(out)
	return out
}

func TestInspectProblems(t *testing.T) {
	ts := testTensors(t)
	byName := map[string]*runtime.Tensor{}
	for _, nt := range ts {
		byName[nt.Name] = nt.T
	}
	noScale := *byName["experts.1.w"]
	noScale.Scale = nil
	badGrid := *byName["w.weight"]
	badGrid.Scale = &runtime.Tensor{DType: ir.F32, Shape: []int{1, 2}, F: make([]float32, 2)}
	badGrid.Block = [2]int{256, 128} // so the writer accepts the grid
	m := testModule()
	m.Params = append(m.Params,
		param("ints", ir.I32, nil, 2),
		&ir.Param{Name: "sym", Type: ir.Type{Shape: ir.Shape{ir.S("T")}, DType: ir.F32}},
		param("fp8_into_bf16.weight", ir.BF16, nil, 2, 2),
		param("i64.weight", ir.F32, nil, 2),
		param("mixed.{e}.w", ir.BF16, nil, 2, 3),
	)
	fp8 := &runtime.Tensor{DType: ir.F8E4M3, Shape: []int{2, 2}, F: make([]float32, 4)}
	broken := []NamedTensor{
		{"w.weight", &badGrid},
		{"experts.0.w", byName["experts.0.w"]},
		{"experts.1.w", &noScale},
		// experts.2.w missing
		{"norm.weight", randTensor(ir.BF16, 1, "n", 6)}, // wrong shape
		{"bias", byName["bias"]},
		{"plain.weight", byName["plain.weight"]},
		{"fp8_into_bf16.weight", fp8},
		{"extra.weight", byName["bias"]},
		{"mixed.0.w", randTensor(ir.BF16, 1, "m0", 3)},
		{"mixed.1.w", randTensor(ir.F32, 1, "m1", 3)},
	}
	dir := writeCkpt(t, broken, 2)
	// An I64 tensor cannot be written by WriteCheckpoint: add a shard by hand.
	i64 := rawFile(`{"i64.weight":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}`, make([]byte, 16))
	os.WriteFile(filepath.Join(dir, "ints.safetensors"), i64, 0o644)
	idx, _ := os.ReadFile(filepath.Join(dir, IndexFile))
	idx = bytes.Replace(idx, []byte(`"weight_map": {`), []byte(`"weight_map": {"i64.weight": "ints.safetensors",`), 1)
	os.WriteFile(filepath.Join(dir, IndexFile), idx, 0o644)

	r, err := Inspect(m, dir)
	var me *MismatchError
	if !errors.As(err, &me) || !errors.Is(err, ErrMismatch) {
		t.Fatalf("Inspect: %v", err)
	}
	want := []string{
		"missing experts.2.w",
		"missing scale experts.1.w",
		"unbindable ints",
		"unbindable sym",
		"unexpected extra.weight",
		"wrong dtype fp8_into_bf16.weight",
		"wrong dtype i64.weight",
		"wrong dtype mixed.1.w", // F32 among BF16 experts
		"wrong scale w.weight_scale_inv",
		"wrong shape norm.weight",
	}
	if got := problemSet(r.Problems); !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var buf bytes.Buffer
	r.Print(&buf, true)
	out := buf.String()
	for _, s := range []string{"FAIL:", "missing", "scale grid [1, 2], want [2, 2]", "shape [6], want [5]", "bias [4]: F32 → f32"} {
		if !strings.Contains(out, s) {
			t.Errorf("report lacks %q:\n%s", s, out)
		}
	}
	// Load fails on the same problems, except the unexpected tensor.
	_, err = Load(m, dir)
	if !errors.As(err, &me) || len(me.Problems) != len(want)-1 || !strings.Contains(err.Error(), `"norm.weight": wrong shape`) {
		t.Errorf("Load: %v", err)
	}
}

func TestUnexpectedNotFatalForLoad(t *testing.T) {
	ts := append(testTensors(t), NamedTensor{"zz.extra", randTensor(ir.F32, 1, "x", 2)}, NamedTensor{"aa.extra", randTensor(ir.F32, 1, "x", 2)})
	dir := writeCkpt(t, ts, 1)
	var extra []string
	if _, err := Load(testModule(), dir, WithUnexpected(func(n []string) { extra = n })); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(extra, []string{"aa.extra", "zz.extra"}) {
		t.Errorf("unexpected %v", extra)
	}
	if _, err := Inspect(testModule(), dir); !errors.Is(err, ErrMismatch) {
		t.Errorf("Inspect accepts extra tensors: %v", err)
	}
	r, err := Inspect(testModule(), dir, IgnoreTensors(func(n string) bool { return strings.HasSuffix(n, ".extra") }))
	if err != nil || !r.OK() || len(r.Bindings) != 5 || r.Tensors != 13 {
		t.Errorf("Inspect with ignore: %v %+v", err, r)
	}
}

func TestShardedIndex(t *testing.T) {
	ts := testTensors(t)
	dir := writeCkpt(t, ts, 3)
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Index || len(c.Shards) != 3 || len(c.Names()) != 11 {
		t.Fatalf("index %v, %d shards, %d tensors", c.Index, len(c.Shards), len(c.Names()))
	}
	for _, nt := range ts {
		f, _ := c.File(nt.Name)
		if fs, _ := c.File(ScaleName(nt.Name)); nt.T.Scale != nil && fs != f {
			t.Errorf("%s and its scale are in different shards", nt.Name)
		}
	}
	c.Close()
	// Deterministic: writing again gives the same bytes.
	dir2 := writeCkpt(t, ts, 3)
	for _, name := range []string{IndexFile, ShardName(0, 3), ShardName(1, 3), ShardName(2, 3)} {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, _ := os.ReadFile(filepath.Join(dir2, name))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two writes", name)
		}
	}
	// Rewriting as one file removes the index; as shards, the single file.
	if err := WriteCheckpoint(dir2, ts, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir2, IndexFile)); !os.IsNotExist(err) {
		t.Error("stale index left behind")
	}
	if err := WriteCheckpoint(dir2, ts, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir2, SingleFile)); !os.IsNotExist(err) {
		t.Error("stale model.safetensors left behind")
	}
	// More shards than tensors: one tensor (and its scale) per shard.
	few := writeCkpt(t, ts[:2], 5)
	if c, err := OpenCheckpoint(few); err != nil || len(c.Shards) != 2 {
		t.Errorf("2 tensors in 5 shards: %v", err)
	}
	// A path to one file works too.
	if c, err := OpenCheckpoint(filepath.Join(dir, ShardName(0, 3))); err != nil || c.Index {
		t.Errorf("single file: %v", err)
	}
}

func TestBadIndex(t *testing.T) {
	ts := testTensors(t)[4:] // norm, bias, plain: no scales
	dir := writeCkpt(t, ts, 2)
	orig, _ := os.ReadFile(filepath.Join(dir, IndexFile))
	s0, s1 := ShardName(0, 2), ShardName(1, 2)
	for _, c := range []struct{ name, index, want string }{
		{"dotdot", `{"weight_map":{"bias":"../x.safetensors"}}`, "contains .."},
		{"separator", `{"weight_map":{"bias":"sub/x.safetensors"}}`, "path separator"},
		{"backslash", `{"weight_map":{"bias":"sub\\x.safetensors"}}`, "path separator"},
		{"absolute", `{"weight_map":{"bias":"/etc/passwd"}}`, "path separator"},
		{"empty name", `{"weight_map":{"bias":""}}`, "empty shard"},
		{"no weight_map", `{"metadata":{}}`, "no weight_map"},
		{"empty weight_map", `{"weight_map":{}}`, "weight_map is empty"},
		{"duplicate entry", `{"weight_map":{"bias":"` + s0 + `","bias":"` + s0 + `"}}`, "twice"},
		{"not json", `{"weight_map":`, "unexpected EOF"},
		{"missing shard", `{"weight_map":{"bias":"nope.safetensors"}}`, "nope.safetensors"},
		{"wrong shard", strings.Replace(string(orig), `"bias": "`+s0, `"bias": "`+s1, 1), `tensor "bias" is mapped to ` + s1},
		{"unlisted tensor", strings.Replace(string(orig), `"bias": "`+s0+`",`, "", 1), `holds tensor "bias"`},
	} {
		os.WriteFile(filepath.Join(dir, IndexFile), []byte(c.index), 0o644)
		_, err := OpenCheckpoint(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := OpenCheckpoint(t.TempDir()); err == nil || !strings.Contains(err.Error(), "found neither") {
		t.Errorf("empty dir: %v", err)
	}
	for _, n := range []string{"a/b", "..", ".", "x..y", "c:d", ""} {
		if ValidShardName(n) == nil {
			t.Errorf("ValidShardName(%q) accepted", n)
		}
	}
	if err := ValidShardName("model-00001-of-00002.safetensors"); err != nil {
		t.Error(err)
	}
}

func compileTiny(t *testing.T) *ir.Module {
	t.Helper()
	m, err := dsl.CompileFile("../../models/deepseek_v3_tiny.deep", dsl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// expected builds what Load must return for param p from the tensors
// RandomTensors wrote.
func expected(p *ir.Param, written map[string]*runtime.Tensor) *runtime.Tensor {
	names := []string{p.Name}
	if strings.Contains(p.Name, ExpertPlaceholder) {
		names = nil
		for e := range int(p.Type.Shape[0].N) {
			names = append(names, ExpertName(p.Name, e))
		}
	}
	first := written[names[0]]
	out := &runtime.Tensor{DType: first.DType, Block: first.Block}
	for _, d := range p.Type.Shape {
		out.Shape = append(out.Shape, int(d.N))
	}
	if first.Scale != nil {
		out.Scale = &runtime.Tensor{DType: ir.F32, Shape: ScaleGrid(out.Shape, first.Block)}
	}
	for _, n := range names {
		out.F = append(out.F, written[n].F...)
		if out.Scale != nil {
			out.Scale.F = append(out.Scale.F, written[n].Scale.F...)
		}
	}
	if p.Type.DType != ir.F8E4M3 {
		out.DType = p.Type.DType
		roundTo(out)
	}
	return out
}

func TestRandomCheckpointTiny(t *testing.T) {
	m := compileTiny(t)
	for _, format := range []string{FormatF32, FormatBF16, FormatFP8} {
		ts, err := RandomTensors(m, 42, format)
		if err != nil {
			t.Fatal(err)
		}
		written := map[string]*runtime.Tensor{}
		for _, nt := range ts {
			written[nt.Name] = nt.T
		}
		for _, shards := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d", format, shards), func(t *testing.T) {
				dir := t.TempDir()
				if err := RandomCheckpoint(m, dir, 42, format, shards); err != nil {
					t.Fatal(err)
				}
				r, err := Inspect(m, dir)
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Shards) != shards || r.Index != (shards > 1) {
					t.Errorf("%d shards, index %v", len(r.Shards), r.Index)
				}
				got, err := Load(m, dir)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(m.Params) {
					t.Fatalf("%d tensors for %d params", len(got), len(m.Params))
				}
				for _, p := range m.Params {
					g := got[p.Name]
					if err := g.Check(); err != nil {
						t.Fatalf("%s: %v", p.Name, err)
					}
					assertTensor(t, p.Name, g, expected(p, written))
					_, q := p.Attrs.Ints("quant")
					switch {
					case format == FormatFP8 && q:
						if g.DType != ir.F8E4M3 || g.Scale == nil {
							t.Errorf("%s: %s, scale %v", p.Name, g.DType, g.Scale != nil)
						}
					case p.Type.DType == ir.F8E4M3:
						if want := map[string]ir.DType{FormatF32: ir.F32, FormatBF16: ir.BF16}[format]; g.DType != want || g.Scale != nil {
							t.Errorf("%s: %s", p.Name, g.DType)
						}
					default:
						if g.DType != p.Type.DType {
							t.Errorf("%s: %s, want %s", p.Name, g.DType, p.Type.DType)
						}
					}
					for _, v := range g.F {
						if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
							t.Fatalf("%s: non-finite value", p.Name)
						}
					}
				}
			})
		}
	}
	// Same seed, same bytes; another seed, other values.
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	RandomCheckpoint(m, a, 1, FormatFP8, 1)
	RandomCheckpoint(m, b, 1, FormatFP8, 1)
	RandomCheckpoint(m, c, 2, FormatFP8, 1)
	da, _ := os.ReadFile(filepath.Join(a, SingleFile))
	db, _ := os.ReadFile(filepath.Join(b, SingleFile))
	dc, _ := os.ReadFile(filepath.Join(c, SingleFile))
	if !bytes.Equal(da, db) || bytes.Equal(da, dc) || len(da) != len(dc) {
		t.Error("RandomCheckpoint is not a deterministic function of the seed")
	}
	if err := RandomCheckpoint(m, a, 1, "int4", 1); err == nil {
		t.Error("unknown format accepted")
	}
}

// TestRandomWeightStatistics checks the documented distributions.
func TestRandomWeightStatistics(t *testing.T) {
	m := compileTiny(t)
	ts, _ := RandomTensors(m, 3, FormatF32)
	stats := func(v []float32) (mean, std float64) {
		for _, x := range v {
			mean += float64(x)
		}
		mean /= float64(len(v))
		for _, x := range v {
			std += (float64(x) - mean) * (float64(x) - mean)
		}
		return mean, math.Sqrt(std / float64(len(v)))
	}
	for _, nt := range ts {
		mean, std := stats(nt.T.F)
		var wantMean, wantStd float64
		switch {
		case strings.HasSuffix(nt.Name, "norm.weight"):
			wantMean, wantStd = 1, 0.05
		case strings.HasSuffix(nt.Name, "bias"):
			wantStd = 0.02
		default:
			wantStd = 1 / math.Sqrt(float64(nt.T.Shape[len(nt.T.Shape)-1]))
		}
		n := float64(len(nt.T.F))
		if math.Abs(mean-wantMean) > 5*wantStd/math.Sqrt(n) || math.Abs(std/wantStd-1) > 5/math.Sqrt(n)+0.01 {
			t.Errorf("%s: mean %g std %g, want %g %g", nt.Name, mean, std, wantMean, wantStd)
		}
	}
}

func TestInspectBrokenTiny(t *testing.T) {
	m := compileTiny(t)
	ts, err := RandomTensors(m, 5, FormatFP8)
	if err != nil {
		t.Fatal(err)
	}
	var broken []NamedTensor
	for _, nt := range ts {
		switch nt.Name {
		case "model.layers.2.self_attn.kv_a_layernorm.weight":
			continue // missing
		case "model.layers.1.mlp.experts.7.up_proj.weight":
			nt.T = quantized(t, 1, "x", 128, 255) // wrong shape
		}
		broken = append(broken, nt)
	}
	broken = append(broken, NamedTensor{"model.layers.0.mlp.extra.weight", randTensor(ir.BF16, 1, "x", 3)})
	dir := writeCkpt(t, broken, 3)
	r, err := Inspect(m, dir)
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("Inspect: %v", err)
	}
	want := []string{
		"missing model.layers.2.self_attn.kv_a_layernorm.weight",
		"unexpected model.layers.0.mlp.extra.weight",
		"wrong shape model.layers.1.mlp.experts.7.up_proj.weight",
	}
	if got := problemSet(r.Problems); !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var buf bytes.Buffer
	r.Print(&buf, false)
	t.Log("\n" + buf.String())
	if !strings.Contains(buf.String(), "FAIL: 1 missing, 1 unexpected, 1 wrong shape") {
		t.Errorf("summary line:\n%s", buf.String())
	}
}

func TestExactValues(t *testing.T) {
	m := &ir.Module{Name: "x", Params: []*ir.Param{
		param("a", ir.BF16, nil, 4), param("b", ir.BF16, nil, 4), param("c", ir.F32, nil, 4), param("d", ir.BF16, nil, 4),
	}}
	src := map[string]*runtime.Tensor{
		"a": randTensor(ir.F32, 1, "a", 4), "b": randTensor(ir.F16, 1, "b", 4),
		"c": randTensor(ir.BF16, 1, "c", 4), "d": randTensor(ir.BF16, 1, "d", 4),
	}
	var ts []NamedTensor
	for _, p := range m.Params {
		ts = append(ts, NamedTensor{p.Name, src[p.Name]})
	}
	dir := writeCkpt(t, ts, 1)
	got, err := Load(m, dir, ExactValues())
	if err != nil {
		t.Fatal(err)
	}
	assertTensor(t, "a", got["a"], src["a"]) // f32 kept
	assertTensor(t, "b", got["b"], src["b"]) // f16 kept
	assertTensor(t, "c", got["c"], &runtime.Tensor{DType: ir.F32, Shape: []int{4}, F: src["c"].F})
	assertTensor(t, "d", got["d"], src["d"])
	c, _ := OpenCheckpoint(dir)
	defer c.Close()
	if a, err := c.LoadParam(m.Params[0]); err != nil || a.DType != ir.BF16 {
		t.Errorf("LoadParam without ExactValues: %v", err)
	}
	if a, err := c.LoadParam(m.Params[0], ExactValues()); err != nil || a.DType != ir.F32 {
		t.Errorf("LoadParam with ExactValues: %v", err)
	}
}

func TestProblemKindJSON(t *testing.T) {
	b, err := json.Marshal(Problem{Kind: WrongScale, Tensor: "x"})
	if err != nil || !strings.Contains(string(b), `"Kind":"wrong scale"`) {
		t.Errorf("%s %v", b, err)
	}
}
