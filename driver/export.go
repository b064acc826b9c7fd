package driver

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/gguf"
	"github.com/deepc-dev/deepc/runtime/tokenizer"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// Exporting a DeepSeek-V3/V2 checkpoint as a GGUF file for llama.cpp's
// "deepseek2" architecture (and so for Ollama and LM Studio). The metadata
// keys, tensor names and layouts are those llama.cpp's loader of the build
// deepc tests against reads (docs/benchmarks.md, "GGUF export"):
//
//   - MLA is stored for its absorbed path: kv_b_proj [H·(nope+v), kv_lora]
//     becomes attn_k_b (per head, k's rows transposed: ne {nope, kv_lora, H})
//     and attn_v_b (ne {kv_lora, v, H}); the K/V cache holds the latent,
//     so head_count_kv is 1 and key_length/value_length describe the latent.
//   - experts are stacked: ffn_{gate,up,down}_exps with ne {in, out, E}.
//   - routing: expert_gating_func (1 softmax, 2 sigmoid), the correction
//     bias as exp_probs_b.bias, expert groups, expert_weights_norm and
//     _scale (docs/model.md §3).
//   - YaRN: rope.scaling.yarn_log_multiplier is 0.1·mscale_all_dim (llama.cpp
//     divides it by 0.1 again when loading deepseek2 files).
//   - MTP layers are left out, as llama.cpp's own converter does.

// ExportGGUF writes a checkpoint as a GGUF file.
type ExportGGUF struct {
	// Load names the model and the checkpoint; its Pipeline is not run (the
	// checkpoint's names are those of the module as the DSL builds it).
	Load Load
	Out  string
	// Type stores the weight matrices: F32, F16, BF16 or Q8_0. Norm
	// weights, the router and its bias stay F32, as do matrices whose rows
	// are not whole Q8_0 blocks.
	Type gguf.TensorType
	// Tokenizer is a tokenizer spec (tokenizer.Open); "" takes the
	// checkpoint's tokenizer.json, or the byte-level tokenizer the size of
	// the vocabulary when there is none.
	Tokenizer string
}

// ggufName maps a checkpoint name (its layer prefix removed) to llama.cpp's.
var ggufTensorNames = map[string]string{
	"model.embed_tokens.weight":           "token_embd.weight",
	"model.norm.weight":                   "output_norm.weight",
	"lm_head.weight":                      "output.weight",
	"input_layernorm.weight":              "attn_norm.weight",
	"self_attn.q_proj.weight":             "attn_q.weight",
	"self_attn.q_a_proj.weight":           "attn_q_a.weight",
	"self_attn.q_a_layernorm.weight":      "attn_q_a_norm.weight",
	"self_attn.q_b_proj.weight":           "attn_q_b.weight",
	"self_attn.kv_a_proj_with_mqa.weight": "attn_kv_a_mqa.weight",
	"self_attn.kv_a_layernorm.weight":     "attn_kv_a_norm.weight",
	"self_attn.o_proj.weight":             "attn_output.weight",
	"post_attention_layernorm.weight":     "ffn_norm.weight",
	"mlp.gate_proj.weight":                "ffn_gate.weight",
	"mlp.up_proj.weight":                  "ffn_up.weight",
	"mlp.down_proj.weight":                "ffn_down.weight",
	"mlp.gate.weight":                     "ffn_gate_inp.weight",
	"mlp.gate.e_score_correction_bias":    "exp_probs_b.bias",
	"mlp.experts.{e}.gate_proj.weight":    "ffn_gate_exps.weight",
	"mlp.experts.{e}.up_proj.weight":      "ffn_up_exps.weight",
	"mlp.experts.{e}.down_proj.weight":    "ffn_down_exps.weight",
	"mlp.shared_experts.gate_proj.weight": "ffn_gate_shexp.weight",
	"mlp.shared_experts.up_proj.weight":   "ffn_up_shexp.weight",
	"mlp.shared_experts.down_proj.weight": "ffn_down_shexp.weight",
}

// kvBName is split in two (kvB).
const kvBName = "self_attn.kv_b_proj.weight"

// keepF32 are the tensors stored F32 whatever the type: the router decides
// which experts run, and a near tie must not flip on rounding.
var keepF32 = map[string]bool{"ffn_gate_inp.weight": true, "exp_probs_b.bias": true}

var layerRE = regexp.MustCompile(`^model\.layers\.(\d+)\.(.+)$`)

// ggufFileType is general.file_type (llama.cpp's llama_ftype) of a type.
var ggufFileType = map[gguf.TensorType]uint32{gguf.F32: 0, gguf.F16: 1, gguf.Q8_0: 7, gguf.BF16: 32}

// Run writes the file: metadata first, then each tensor as it is read
// from the checkpoint (one at a time in memory). The file is written
// beside Out and renamed into place when complete; an existing Out is
// replaced only when it is a GGUF file.
func (x *ExportGGUF) Run(diag io.Writer) error {
	if diag == nil {
		diag = io.Discard
	}
	if _, ok := ggufFileType[x.Type]; !ok {
		return fmt.Errorf("export: deepc writes F32, F16, BF16 or Q8_0 tensors, not %s", x.Type)
	}
	if _, err := safefile.CheckOutput(x.Out, safefile.GGUF); err != nil {
		return err
	}
	if fi, err := os.Stat(filepath.Dir(x.Out)); err != nil || !fi.IsDir() {
		return fmt.Errorf("export: %s: the directory %s does not exist", x.Out, filepath.Dir(x.Out))
	}
	l := x.Load
	l.Pipeline = ""
	m, err := l.Compile()
	if err != nil {
		return err
	}
	cfg, ok := m.Attrs.Dict("config")
	if !ok {
		return fmt.Errorf("export: model %s has no config", m.Name)
	}
	h, err := deepseek2Params(cfg)
	if err != nil {
		return fmt.Errorf("export: %s: %w", m.Name, err)
	}
	// The checkpoint must hold every param before anything is sized from
	// the config (the vocabulary's token table, for one): a config.json
	// alone cannot make the export allocate.
	ck, err := weights.OpenCheckpoint(l.Checkpoint)
	if err != nil {
		return err
	}
	defer ck.Close()
	if err := planned(ck, m); err != nil {
		return err
	}
	tok, err := x.tokenizer(int(h.vocab))
	if err != nil {
		return err
	}
	kvs, err := deepseek2Metadata(m.Name, h, x.Type, tok)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	tensors, err := x.tensorSpecs(m, ck, h, diag)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}

	tmp, err := os.CreateTemp(filepath.Dir(x.Out), "."+filepath.Base(x.Out)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename; removes a partial file otherwise
	if err := gguf.Write(tmp, kvs, tensors); err != nil {
		tmp.Close()
		return fmt.Errorf("export: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp's 0600 is for the temporary file only
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if _, err := safefile.CheckOutput(x.Out, safefile.GGUF); err != nil {
		return err // something appeared at Out meanwhile
	}
	if err := os.Rename(tmp.Name(), x.Out); err != nil {
		return err
	}
	fmt.Fprintf(diag, "wrote %s: %d tensors, %d metadata keys (llama.cpp architecture deepseek2, %s)\n", x.Out, len(tensors), len(kvs), x.Type)
	return nil
}

// planned checks that the checkpoint binds every param of m (tensors it
// has beyond them are fine, as for inspect).
func planned(ck *weights.Checkpoint, m *ir.Module) error {
	_, probs := ck.Plan(m, weights.IgnoreTensors(models.CheckpointCopy))
	var fatal []weights.Problem
	for _, p := range probs {
		if p.Kind != weights.Unexpected {
			fatal = append(fatal, p)
		}
	}
	if len(fatal) > 0 {
		return &weights.MismatchError{Path: ck.Path, Module: m.Name, Problems: fatal}
	}
	return nil
}

// tokenizer opens the tokenizer whose tables the file carries.
func (x *ExportGGUF) tokenizer(vocab int) (tokenizer.Vocabulary, error) {
	t, err := tokenizer.Open(tokenizerSpec(x.Tokenizer, x.Load.Checkpoint, vocab))
	if err != nil {
		return tokenizer.Vocabulary{}, err
	}
	v, err := tokenizer.VocabularyOf(t)
	if err != nil {
		return v, err
	}
	if len(v.Tokens) > vocab {
		return v, fmt.Errorf("export: the tokenizer has %d tokens, more than the model's vocabulary of %d", len(v.Tokens), vocab)
	}
	return v, nil
}

// ds2 is what the deepseek2 metadata needs from the model's config.
type ds2 struct {
	vocab, dim, inter, moeInter, layers, dense, heads int64
	qLora, kvLora, nope, rope, v                      int64
	experts, shared, active, groups, limited          int64
	routeScale, eps, theta                            float64
	sigmoid                                           bool
	yarn                                              bool
	factor, betaFast, betaSlow, mscaleAllDim          float64
	origCtx                                           int64
}

// deepseek2Params reads the config, refusing what llama.cpp's deepseek2
// cannot express.
func deepseek2Params(cfg ir.Attrs) (ds2, error) {
	var h ds2
	ints := []struct {
		key string
		dst *int64
	}{
		{"vocab_size", &h.vocab}, {"dim", &h.dim}, {"inter_dim", &h.inter}, {"moe_inter_dim", &h.moeInter},
		{"n_layers", &h.layers}, {"n_dense_layers", &h.dense}, {"n_heads", &h.heads},
		{"q_lora_rank", &h.qLora}, {"kv_lora_rank", &h.kvLora}, {"qk_nope_head_dim", &h.nope},
		{"qk_rope_head_dim", &h.rope}, {"v_head_dim", &h.v}, {"n_routed_experts", &h.experts},
		{"n_shared_experts", &h.shared}, {"n_activated_experts", &h.active},
		{"n_expert_groups", &h.groups}, {"n_limited_groups", &h.limited},
	}
	for _, k := range ints {
		v, ok := cfg.Int(k.key)
		if !ok {
			return h, fmt.Errorf("config has no integer %s: not a DeepSeek-V3/V2 model (llama.cpp's deepseek2)", k.key)
		}
		if v < 0 || v > math.MaxUint32 {
			return h, fmt.Errorf("config %s = %d is out of range", k.key, v)
		}
		*k.dst = v
	}
	floats := []struct {
		key string
		dst *float64
	}{{"route_scale", &h.routeScale}, {"rms_norm_eps", &h.eps}, {"rope_theta", &h.theta}}
	for _, k := range floats {
		v, ok := cfg.Float(k.key)
		if !ok {
			return h, fmt.Errorf("config has no number %s", k.key)
		}
		*k.dst = v
	}
	// score_func is a config value naming the gate, not an op.
	score, _ := cfg.Str("score_func")
	if score != "sigmoid" && score != "softmax" {
		return h, fmt.Errorf("score_func %q: llama.cpp's deepseek2 gates experts by sigmoid or softmax", score)
	}
	h.sigmoid = score == "sigmoid"
	if h.qLora == 0 && h.layers != 26 && h.layers != 27 {
		return h, fmt.Errorf("q_lora_rank = 0 (no q compression) with %d layers: llama.cpp's deepseek2 reads an uncompressed q only from files of 26 or 27 layers (that is how it recognises DeepSeek-V2-Lite); any other such file fails to load there", h.layers)
	}
	if h.groups > 1 && h.limited < h.groups && !h.sigmoid {
		return h, fmt.Errorf("softmax routing limited to %d of %d expert groups ranks groups by their best expert (DeepSeek-V2), but llama.cpp's deepseek2 ranks them by the sum of their best two (DeepSeek-V3): the file would compute another model", h.limited, h.groups)
	}
	if rs, ok := cfg.Dict("rope_scaling"); ok {
		typ, _ := rs.Str("type")
		if typ != "yarn" {
			return h, fmt.Errorf("rope_scaling type %q: llama.cpp's deepseek2 files carry YaRN only", typ)
		}
		h.yarn = true
		get := func(k string) float64 { v, _ := rs.Float(k); return v }
		h.factor, h.betaFast, h.betaSlow, h.mscaleAllDim = get("factor"), get("beta_fast"), get("beta_slow"), get("mscale_all_dim")
		h.origCtx = int64(get("original_max_position_embeddings"))
		if !(h.factor > 0) || h.origCtx <= 0 || h.origCtx > math.MaxUint32 {
			return h, fmt.Errorf("YaRN needs a positive factor and original_max_position_embeddings up to 2^32, got %g and %d", h.factor, h.origCtx)
		}
		if ms := get("mscale"); ms != h.mscaleAllDim {
			return h, fmt.Errorf("YaRN mscale %g differs from mscale_all_dim %g: llama.cpp assumes they are equal (DeepSeek-V2 and V3 configs have them equal), so the file would scale attention differently", ms, h.mscaleAllDim)
		}
	}
	return h, nil
}

// deepseek2Metadata is the file's metadata.
func deepseek2Metadata(name string, h ds2, typ gguf.TensorType, tok tokenizer.Vocabulary) ([]gguf.KV, error) {
	a := func(k string) string { return "deepseek2." + k }
	u := func(v int64) uint32 { return uint32(v) }
	ctx := int64(4096)
	if h.yarn { // the extended context, which a uint32 holds at most
		ctx = int64(min(float64(h.origCtx)*h.factor, math.MaxUint32))
	}
	kvs := []gguf.KV{
		kv("general.architecture", "deepseek2"),
		kv("general.name", name),
		kv("general.file_type", ggufFileType[typ]),
		kv("general.quantization_version", uint32(2)),
		kv(a("vocab_size"), u(h.vocab)),
		kv(a("context_length"), u(ctx)),
		kv(a("embedding_length"), u(h.dim)),
		kv(a("block_count"), u(h.layers)),
		kv(a("leading_dense_block_count"), u(h.dense)),
		kv(a("feed_forward_length"), u(h.inter)),
		kv(a("attention.head_count"), u(h.heads)),
		kv(a("attention.head_count_kv"), uint32(1)),
		kv(a("attention.layer_norm_rms_epsilon"), float32(h.eps)),
		kv(a("attention.kv_lora_rank"), u(h.kvLora)),
		kv(a("attention.key_length"), u(h.kvLora+h.rope)),
		kv(a("attention.value_length"), u(h.kvLora)),
		kv(a("attention.key_length_mla"), u(h.nope+h.rope)),
		kv(a("attention.value_length_mla"), u(h.v)),
		kv(a("rope.dimension_count"), u(h.rope)),
		kv(a("rope.freq_base"), float32(h.theta)),
		kv(a("expert_count"), u(h.experts)),
		kv(a("expert_used_count"), u(h.active)),
		kv(a("expert_shared_count"), u(h.shared)),
		kv(a("expert_feed_forward_length"), u(h.moeInter)),
		kv(a("expert_weights_scale"), float32(h.routeScale)),
		kv(a("expert_weights_norm"), h.sigmoid), // norm_topk_prob: V3 renormalizes, V2 does not (docs/model.md §3)
		kv(a("expert_gating_func"), map[bool]uint32{true: 2, false: 1}[h.sigmoid]),
	}
	if h.qLora > 0 {
		kvs = append(kvs, kv(a("attention.q_lora_rank"), u(h.qLora)))
	}
	if h.groups > 1 && h.limited < h.groups {
		kvs = append(kvs,
			kv(a("expert_group_count"), u(h.groups)),
			kv(a("expert_group_used_count"), u(h.limited)))
	}
	if h.yarn {
		kvs = append(kvs,
			kv(a("rope.scaling.type"), "yarn"),
			kv(a("rope.scaling.factor"), float32(h.factor)),
			kv(a("rope.scaling.original_context_length"), u(h.origCtx)),
			kv(a("rope.scaling.yarn_beta_fast"), float32(h.betaFast)),
			kv(a("rope.scaling.yarn_beta_slow"), float32(h.betaSlow)),
			kv(a("rope.scaling.yarn_log_multiplier"), float32(0.1*h.mscaleAllDim)))
	}
	return append(kvs, tokenizerMetadata(tok, int(h.vocab))...), nil
}

// GGUF token types (llama.cpp's llama_token_type).
const (
	tokenNormal  int32 = 1
	tokenControl int32 = 3
	tokenUnused  int32 = 5
)

// tokenizerMetadata is the tokenizer.ggml.* section: byte-level BPE ("gpt2"
// in llama.cpp's terms), one token per id up to the model's vocabulary
// (ids no token has are "[PAD<id>]", unused).
func tokenizerMetadata(v tokenizer.Vocabulary, vocab int) []gguf.KV {
	tokens := make([]string, vocab)
	types := make([]int32, vocab)
	for id := range vocab {
		switch {
		case id >= len(v.Tokens) || v.Tokens[id] == "":
			tokens[id], types[id] = "[PAD"+strconv.Itoa(id)+"]", tokenUnused
		case v.Special[id]:
			tokens[id], types[id] = v.Tokens[id], tokenControl
		default:
			tokens[id], types[id] = v.Tokens[id], tokenNormal
		}
	}
	merges := v.Merges
	if merges == nil {
		merges = []string{}
	}
	kvs := []gguf.KV{
		kv("tokenizer.ggml.model", "gpt2"),
		kv("tokenizer.ggml.pre", v.Pre),
		kv("tokenizer.ggml.tokens", gguf.Array{Elem: gguf.TypeString, Values: tokens}),
		kv("tokenizer.ggml.token_type", gguf.Array{Elem: gguf.TypeInt32, Values: types}),
		kv("tokenizer.ggml.merges", gguf.Array{Elem: gguf.TypeString, Values: merges}),
		// deepc's Encode adds neither; a prompt that wants BOS writes it.
		kv("tokenizer.ggml.add_bos_token", false),
		kv("tokenizer.ggml.add_eos_token", false),
	}
	if v.BOS >= 0 {
		kvs = append(kvs, kv("tokenizer.ggml.bos_token_id", uint32(v.BOS)))
	}
	if v.EOS >= 0 {
		kvs = append(kvs, kv("tokenizer.ggml.eos_token_id", uint32(v.EOS)))
	}
	return kvs
}

// tensorSpecs names every param's tensor(s) in llama.cpp's layout. A param
// of an MTP layer is left out; any other param the table does not name is
// an error (the model is not one llama.cpp's deepseek2 can run).
func (x *ExportGGUF) tensorSpecs(m *ir.Module, ck *weights.Checkpoint, h ds2, diag io.Writer) ([]gguf.TensorSpec, error) {
	var out []gguf.TensorSpec
	kept := 0
	for _, p := range m.Params {
		name, rest := p.Name, p.Name
		prefix := ""
		if mm := layerRE.FindStringSubmatch(p.Name); mm != nil {
			layer, _ := strconv.Atoi(mm[1])
			if int64(layer) >= h.layers {
				continue // an MTP layer
			}
			prefix, rest = "blk."+mm[1]+".", mm[2]
		}
		target, ok := ggufTensorNames[rest]
		if !ok && rest != kvBName {
			return nil, fmt.Errorf("param %s has no place in llama.cpp's deepseek2 layout", name)
		}
		if target == "exp_probs_b.bias" && !h.sigmoid {
			// Softmax routing selects without the bias (docs/model.md §3);
			// llama.cpp adds exp_probs_b whenever the file has it.
			continue
		}
		load := func() (*runtime.Tensor, error) {
			t, err := ck.LoadParam(p, weights.ExactValues()) // the checkpoint's values, not rounded to the param's dtype
			if err != nil {
				return nil, err
			}
			return weights.Dequantize(t), nil
		}
		shape := p.Type.Shape
		dims := make([]int64, len(shape))
		for i, d := range shape {
			if d.IsSym() {
				return nil, fmt.Errorf("param %s has a symbolic shape", name)
			}
			dims[len(shape)-1-i] = d.N
		}
		if rest == kvBName {
			k, v, err := kvB(prefix, dims, h, load, x.typeFor)
			if err != nil {
				return nil, fmt.Errorf("param %s: %w", name, err)
			}
			out = append(out, k, v)
			continue
		}
		typ := x.typeFor(target, dims)
		if typ != x.Type {
			kept++
		}
		out = append(out, gguf.TensorSpec{Name: prefix + target, Dims: dims, Type: typ, Values: func() ([]float32, error) {
			t, err := load()
			if err != nil {
				return nil, err
			}
			return t.F, nil
		}})
	}
	if kept > 0 && x.Type != gguf.F32 {
		fmt.Fprintf(diag, "%d tensors stay F32 (norms, the router, rows not whole %s blocks)\n", kept, x.Type)
	}
	// A line every tenth of the tensors: the full model takes minutes.
	done, next := 0, 1
	for i := range out {
		values := out[i].Values
		out[i].Values = func() ([]float32, error) {
			v, err := values()
			if done++; err == nil && done*10 >= next*len(out) {
				fmt.Fprintf(diag, "exporting: %d of %d tensors (%d%%)\n", done, len(out), done*100/len(out))
				next = done*10/len(out) + 1
			}
			return v, err
		}
	}
	return out, nil
}

// typeFor is a tensor's storage type.
func (x *ExportGGUF) typeFor(name string, dims []int64) gguf.TensorType {
	if len(dims) < 2 || keepF32[name] {
		return gguf.F32
	}
	if _, err := x.Type.Bytes(dims); err != nil {
		return gguf.F32
	}
	return x.Type
}

// kvB splits kv_b_proj ([H·(nope+v), kv_lora] row-major: each head's nope
// rows of K, then its v rows of V) into attn_k_b, K's rows transposed per
// head (ne {nope, kv_lora, H}), and attn_v_b (ne {kv_lora, v, H}), what
// llama.cpp's absorbed MLA multiplies by.
func kvB(prefix string, dims []int64, h ds2, load func() (*runtime.Tensor, error), typeFor func(string, []int64) gguf.TensorType) (k, v gguf.TensorSpec, err error) {
	H, nope, vd, r := h.heads, h.nope, h.v, h.kvLora
	if len(dims) != 2 || dims[0] != r || dims[1] != H*(nope+vd) {
		return k, v, fmt.Errorf("shape ne %v, want {%d, %d}", dims, r, H*(nope+vd))
	}
	part := func(name string, ne []int64, fill func(src, dst []float32)) gguf.TensorSpec {
		return gguf.TensorSpec{Name: prefix + name, Dims: ne, Type: typeFor(name, ne), Values: func() ([]float32, error) {
			t, err := load()
			if err != nil {
				return nil, err
			}
			dst := make([]float32, ne[0]*ne[1]*ne[2])
			fill(t.F, dst)
			return dst, nil
		}}
	}
	k = part("attn_k_b.weight", []int64{nope, r, H}, func(src, dst []float32) {
		for hd := range H {
			for i := range nope { // K row i of head hd
				row := src[(hd*(nope+vd)+i)*r:][:r]
				for c := range r { // becomes column i of the head's [kv_lora, nope] matrix
					dst[(hd*r+c)*nope+i] = row[c]
				}
			}
		}
	})
	v = part("attn_v_b.weight", []int64{r, vd, H}, func(src, dst []float32) {
		for hd := range H {
			copy(dst[hd*vd*r:(hd+1)*vd*r], src[(hd*(nope+vd)+nope)*r:][:vd*r])
		}
	})
	return k, v, nil
}

func kv(key string, v any) gguf.KV { return gguf.KV{Key: key, Value: v} }
