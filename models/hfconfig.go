package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
)

// A model's Hugging Face config.json, read and written through the
// checkpoint contract its .deep file declares (dsl.CheckpointAttr; the
// DSL's `checkpoint "Arch" { ... }`). Nothing here knows a model: the
// contract names the keys, and the model's own config gives each key's
// type (its default's kind). What is Hugging Face's and not any model's
// lives here: null for "none", rope_scaling's fields per type, and
// quantization_config for fp8 block-quantized weights.

// HFKind says how a config.json value becomes a DSL expression.
type HFKind int

const (
	HFInt         HFKind = iota + 1 // an integer
	HFFloat                         // a number, written with a decimal point or exponent
	HFString                        // a string
	HFRopeScaling                   // a rope_scaling struct; null means none
	HFBool                          // true or false
)

// hfRopeField is one field of rope_scaling with the default Hugging Face's
// code takes when it is absent (NaN: required).
type hfRopeField struct {
	Name    string
	Kind    HFKind
	Default float64
}

// HFRopeScalings are the fields of each rope_scaling type deepc computes
// (docs/op-semantics.md, rope), in the DSL's order. "rope_type" is
// accepted for "type".
var HFRopeScalings = map[string][]hfRopeField{
	"yarn": {
		{"factor", HFFloat, math.NaN()},
		{"original_max_position_embeddings", HFInt, 4096},
		{"beta_fast", HFFloat, 32},
		{"beta_slow", HFFloat, 1},
		{"mscale", HFFloat, 1},
		{"mscale_all_dim", HFFloat, 0},
	},
	"llama3": {
		{"factor", HFFloat, math.NaN()},
		{"low_freq_factor", HFFloat, math.NaN()},
		{"high_freq_factor", HFFloat, math.NaN()},
		{"original_max_position_embeddings", HFInt, math.NaN()},
	},
	"linear": {
		{"factor", HFFloat, math.NaN()},
	},
	// Hugging Face's dynamic NTK takes its original context from the
	// config's max_position_embeddings (dynamicContext fills it in).
	"dynamic": {
		{"factor", HFFloat, math.NaN()},
		{"original_max_position_embeddings", HFInt, math.NaN()},
	},
}

// dynamicContext gives a dynamic rope_scaling the config's
// max_position_embeddings as its original_max_position_embeddings: the
// context Hugging Face's dynamic NTK scales from. A rope_scaling that
// names another is refused rather than guessed between.
func dynamicContext(cfg map[string]json.RawMessage) (json.RawMessage, error) {
	raw := cfg["rope_scaling"]
	var rs map[string]json.RawMessage
	if raw == nil || isNull(raw) || json.Unmarshal(raw, &rs) != nil {
		return raw, nil
	}
	typ := rs["type"]
	if typ == nil {
		typ = rs["rope_type"]
	}
	if string(bytes.TrimSpace(typ)) != `"dynamic"` {
		return raw, nil
	}
	m, ok := cfg["max_position_embeddings"]
	own, hasOwn := rs["original_max_position_embeddings"]
	switch {
	case !ok && !hasOwn:
		return nil, fmt.Errorf("config.json: rope_scaling dynamic needs max_position_embeddings (its original context)")
	case !ok:
		return raw, nil
	case hasOwn && !jsonEqual(own, m):
		return nil, fmt.Errorf("config.json: rope_scaling.original_max_position_embeddings %s differs from max_position_embeddings %s, which Hugging Face's dynamic NTK scales from", bytes.TrimSpace(own), bytes.TrimSpace(m))
	}
	rs["original_max_position_embeddings"] = m
	return json.Marshal(rs)
}

// Contract is a model's checkpoint contract.
type Contract struct {
	Model        string
	Architecture string
	Map          map[string]string // config.json key → config key
	Nullable     map[string]bool   // mapped keys whose 0 is written and read as null
	Fixed        map[string]any    // config.json key → the value it must hold (nil: null)
	Ignore       map[string]bool   // keys that do not change the computation
	Derived      map[string]bool   // mapped config keys computed from others (config.json may omit them)
	config       ir.Attrs          // the model's config (its defaults, or as compiled)
}

// ContractOf returns the contract of a compiled module.
func ContractOf(m *ir.Module) (*Contract, error) {
	ck, ok := m.Attrs.Dict(dsl.CheckpointAttr)
	if !ok {
		return nil, fmt.Errorf("model %s declares no checkpoint contract (a `checkpoint \"Arch\" { ... }` block mapping config.json's keys to its config)", m.Name)
	}
	cfg, _ := m.Attrs.Dict("config")
	c := &Contract{Model: m.Name, Map: map[string]string{}, Nullable: map[string]bool{}, Fixed: map[string]any{},
		Ignore: map[string]bool{}, Derived: map[string]bool{}, config: cfg}
	c.Architecture, _ = ck.Str("architecture")
	mp, _ := ck.Dict("map")
	for k, v := range mp {
		c.Map[k], _ = v.(string)
	}
	nl, _ := ck.Dict("nullable")
	for k := range nl {
		c.Nullable[k] = true
	}
	fx, _ := ck.Dict("fixed")
	for k, v := range fx {
		if a, ok := v.(ir.Attrs); ok && len(a) == 0 {
			v = nil
		}
		c.Fixed[k] = v
	}
	for attr, set := range map[string]map[string]bool{"ignore": c.Ignore, "derived": c.Derived} {
		list, _ := ck.Str(attr)
		for _, k := range strings.Split(list, ",") {
			if k != "" {
				set[k] = true
			}
		}
	}
	return c, c.check()
}

// check refuses a contract whose config.json could not be read back: a
// config key mapped twice, or one whose value config.json cannot hold.
func (c *Contract) check() error {
	by := map[string]string{}
	for _, hf := range slices.Sorted(maps.Keys(c.Map)) {
		key := c.Map[hf]
		if other, dup := by[key]; dup {
			return fmt.Errorf("model %s's checkpoint contract maps both %s and %s to %s", c.Model, other, hf, key)
		}
		by[key] = hf
		switch v := c.config[key].(type) {
		case int64, float64, string, bool:
		case ir.Attrs, nil: // a struct, or none
			if hf != "rope_scaling" {
				return fmt.Errorf("model %s's checkpoint contract maps %s to %s, a struct or none; config.json holds only rope_scaling so", c.Model, hf, key)
			}
		default:
			return fmt.Errorf("model %s's checkpoint contract maps %s to %s, whose value (%v) config.json cannot hold", c.Model, hf, key, v)
		}
	}
	for hf, v := range c.Fixed {
		if _, err := json.Marshal(jsonValue(v)); err != nil {
			return fmt.Errorf("model %s's checkpoint contract: %s: %v", c.Model, hf, err)
		}
	}
	return nil
}

// CheckSetsWritable refuses --set overrides of config keys that the
// model's checkpoint contract cannot write to config.json (init would
// write a checkpoint that loads as another model).
func CheckSetsWritable(m *ir.Module, sets []string) error {
	c, err := ContractOf(m)
	if err != nil {
		return err
	}
	mapped := map[string]bool{"weight_dtype": true, "weight_quant": true}
	for _, key := range c.Map {
		mapped[key] = true
	}
	for _, s := range sets {
		key, _, _ := strings.Cut(s, "=")
		key, _, _ = strings.Cut(strings.TrimSpace(key), ".")
		if !mapped[key] {
			return fmt.Errorf("--set %.80s: model %s's checkpoint contract has no config.json key for %.80s, so the checkpoint could not say it", s, c.Model, key)
		}
	}
	return nil
}

// maxWarnings bounds the keys reported one by one.
const maxWarnings = 20

// hfCommon are config.json keys of every Hugging Face causal LM that do
// not change what the model computes (token ids, bookkeeping, training-only
// settings, the context length a checkpoint was trained to).
var hfCommon = map[string]bool{
	"_name_or_path": true, "architectures": true, "auto_map": true, "model_type": true,
	"transformers_version": true, "torch_dtype": true, "use_cache": true,
	"bos_token_id": true, "eos_token_id": true, "pad_token_id": true,
	"initializer_range": true, "attention_dropout": true, "max_position_embeddings": true,
	"quantization_config": true,
}

// torchDTypes name the activation dtype as config.json's torch_dtype.
var torchDTypes = map[ir.DType]string{ir.BF16: "bfloat16", ir.F16: "float16", ir.F32: "float32"}

// HFSet is one override from a config.json. Absent marks a value that
// stands for a key the file lacks (an absent rope_scaling means none): a
// model without that config key takes nothing from it, where a key the
// file does set must exist in the model.
type HFSet struct {
	Set    string
	Absent bool
}

// Sets reads a config.json as overrides of the model's config ("key=value",
// values as DSL expressions), with a warning for each key the contract
// neither maps, fixes nor ignores (it is not used, and said so). Fixed
// keys are checked by Check once the model is compiled with the sets.
func (c *Contract) Sets(data []byte) ([]HFSet, []string, error) {
	cfg, err := decodeConfig(data, "config.json")
	if err != nil {
		return nil, nil, err
	}
	if err := checkSemantics(cfg); err != nil {
		return nil, nil, err
	}
	if raw, ok := cfg["architectures"]; ok {
		var archs []string
		if err := json.Unmarshal(raw, &archs); err != nil {
			return nil, nil, fmt.Errorf("config.json: architectures must be a list of strings, got %s", raw)
		}
		if !slices.Contains(archs, c.Architecture) {
			msg := fmt.Sprintf("config.json: architectures %.80q does not include %s, the architecture of model %s", archs, c.Architecture, c.Model)
			if len(archs) > 0 {
				if f, ok := ForArchitecture(archs[0]); ok {
					msg += fmt.Sprintf(" (models/%s reads %s checkpoints)", f, archs[0])
				}
			}
			return nil, nil, errors.New(msg)
		}
	}
	var sets []HFSet
	var warnings []string
	for _, hf := range slices.Sorted(maps.Keys(cfg)) {
		raw := cfg[hf]
		key, mapped := c.Map[hf]
		switch {
		case mapped:
			if hf == "rope_scaling" {
				if raw, err = dynamicContext(cfg); err != nil {
					return nil, nil, err
				}
			}
			v, err := c.dslValue(hf, key, raw)
			if err != nil {
				return nil, nil, err
			}
			sets = append(sets, HFSet{Set: key + "=" + v})
		case hasKey(c.Fixed, hf) || c.Ignore[hf] || hfCommon[hf]:
		default:
			warnings = append(warnings, fmt.Sprintf("config.json: %.80s is not part of model %s's checkpoint contract; ignored", hf, c.Model))
		}
	}
	for _, hf := range slices.Sorted(maps.Keys(c.Map)) {
		key := c.Map[hf]
		if _, ok := cfg[hf]; ok {
			continue
		}
		// An absent rope_scaling is none, as every Hugging Face config
		// defaults it; other absent keys keep the model's values, said so
		// unless computed from others.
		switch {
		case hf == "rope_scaling":
			sets = append(sets, HFSet{Set: key + "=none", Absent: true})
		case !c.Derived[key]:
			v, _ := json.Marshal(jsonValue(c.config[key]))
			warnings = append(warnings, fmt.Sprintf("config.json: %s is missing; model %s uses its own %s = %s (Hugging Face's default for the architecture may differ)", hf, c.Model, key, v))
		}
	}
	if len(warnings) > maxWarnings {
		warnings = append(warnings[:maxWarnings], fmt.Sprintf("config.json: and %d more", len(warnings)-maxWarnings))
	}
	// weight_quant may be none (absent from the config attributes).
	if c.hasKeys("weight_dtype") {
		q, err := quantSets(cfg["quantization_config"])
		if err != nil {
			return nil, nil, err
		}
		_, hasQuant := cfg["quantization_config"]
		for _, s := range q {
			sets = append(sets, HFSet{Set: s, Absent: !hasQuant})
		}
	} else if raw, ok := cfg["quantization_config"]; ok && !isNull(raw) {
		return nil, nil, fmt.Errorf("config.json: quantization_config: model %s has no weight_dtype and weight_quant to take it", c.Model)
	}
	slices.SortStableFunc(sets, func(a, b HFSet) int { return strings.Compare(a.Set, b.Set) })
	return sets, warnings, nil
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func (c *Contract) hasKeys(keys ...string) bool {
	for _, k := range keys {
		if _, ok := c.config[k]; !ok {
			return false
		}
	}
	return true
}

// dslValue converts a mapped key's value to a DSL expression of the kind
// of the config key's default.
func (c *Contract) dslValue(hf, key string, raw json.RawMessage) (string, error) {
	def, has := c.config[key]
	if isNull(raw) {
		_, isStruct := def.(ir.Attrs)
		switch {
		case c.Nullable[hf]:
			return "0", nil
		case !has || isStruct:
			return "none", nil
		}
		return "", fmt.Errorf("config.json: %s is null", hf)
	}
	kind := HFString
	switch def.(type) {
	case int64:
		kind = HFInt
	case float64:
		kind = HFFloat
	case bool:
		kind = HFBool
	case string:
		kind = HFString
	case ir.Attrs, nil:
		kind = HFRopeScaling
		if hf != "rope_scaling" {
			return "", fmt.Errorf("config.json: %s: model %s's %s is a struct, which only rope_scaling maps to", hf, c.Model, key)
		}
	default:
		return "", fmt.Errorf("config.json: %s: model %s's %s (%T) cannot be read from config.json", hf, c.Model, key, def)
	}
	return hfValue(hf, kind, raw)
}

// Check verifies a config.json's fixed keys against the model compiled
// from its sets (the contract of m, whose expressions are evaluated).
func Check(m *ir.Module, data []byte) error {
	c, err := ContractOf(m)
	if err != nil {
		return err
	}
	cfg, err := decodeConfig(data, "config.json")
	if err != nil {
		return err
	}
	for _, hf := range slices.Sorted(maps.Keys(c.Fixed)) {
		raw, ok := cfg[hf]
		if !ok {
			continue
		}
		want, err := json.Marshal(jsonValue(c.Fixed[hf]))
		if err != nil {
			return err
		}
		if !jsonEqual(raw, want) {
			return fmt.Errorf("config.json: %s is %s; model %s needs %s (its checkpoint contract)", hf, bytes.TrimSpace(raw), c.Model, want)
		}
	}
	return nil
}

// jsonEqual compares two JSON values semantically (1 == 1.0).
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// jsonValue turns an attribute value into what encoding/json writes.
func jsonValue(v any) any {
	switch v := v.(type) {
	case ir.Attrs:
		out := map[string]any{}
		for k, x := range v {
			out[k] = jsonValue(x)
		}
		return out
	case ir.DType:
		return v.String()
	}
	return v
}

// SetsFromHFConfig reads a config.json for the model file at path (its
// contract and config defaults from a compile with no overrides) and
// returns the overrides.
func SetsFromHFConfig(path string, data []byte) ([]string, error) {
	base, err := dsl.CompileFile(path, dsl.Options{ReadFile: ReadFile})
	if err != nil {
		return nil, err
	}
	c, err := ContractOf(base)
	if err != nil {
		return nil, err
	}
	hs, _, err := c.Sets(data)
	var sets []string
	for _, h := range hs {
		sets = append(sets, h.Set)
	}
	return sets, err
}

// decodeConfig parses a JSON object keeping numbers exact.
func decodeConfig(data []byte, what string) (map[string]json.RawMessage, error) {
	var cfg map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	if cfg == nil {
		return nil, fmt.Errorf("%s: not a JSON object", what)
	}
	if d.More() {
		return nil, fmt.Errorf("%s: data after the JSON object", what)
	}
	return cfg, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// hfValue converts one value to a DSL expression.
func hfValue(key string, kind HFKind, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		if kind == HFRopeScaling {
			return "none", nil
		}
		return "", fmt.Errorf("config.json: %s is null", key)
	}
	switch kind {
	case HFInt:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil || bytes.TrimSpace(raw)[0] == '"' {
			return "", fmt.Errorf("config.json: %s must be an integer, got %s", key, raw)
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			// 7168.0 is an integer too.
			f, ferr := n.Float64()
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return "", fmt.Errorf("config.json: %s must be an integer, got %s", key, raw)
			}
			i = int64(f)
		}
		if i < 0 {
			return "", fmt.Errorf("config.json: %s must not be negative, got %d", key, i)
		}
		return strconv.FormatInt(i, 10), nil
	case HFFloat:
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil {
			return "", fmt.Errorf("config.json: %s must be a number, got %s", key, raw)
		}
		return dslFloat(f), nil
	case HFBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", fmt.Errorf("config.json: %s must be true or false, got %s", key, raw)
		}
		return strconv.FormatBool(b), nil
	case HFString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("config.json: %s must be a string, got %s", key, raw)
		}
		return strconv.Quote(s), nil
	case HFRopeScaling:
		return ropeScaling(raw)
	}
	return "", fmt.Errorf("config.json: %s: unknown kind %d", key, kind)
}

// dslFloat writes f so that the DSL reads a float: "10000.0", "1e-06", "2.5".
func dslFloat(f float64) string {
	s := strconv.FormatFloat(math.Abs(f), 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	if f < 0 || (f == 0 && math.Signbit(f)) {
		s = "-" + s
	}
	return s
}

func ropeScaling(raw json.RawMessage) (string, error) {
	rs, err := decodeConfig(raw, "config.json: rope_scaling")
	if err != nil {
		return "", err
	}
	if rt, ok := rs["rope_type"]; ok {
		if t, ok := rs["type"]; ok && !bytes.Equal(bytes.TrimSpace(t), bytes.TrimSpace(rt)) {
			return "", fmt.Errorf("config.json: rope_scaling has type %s and rope_type %s", t, rt)
		}
		rs["type"] = rt
		delete(rs, "rope_type")
	}
	var typ string
	if raw, ok := rs["type"]; !ok {
		return "", fmt.Errorf("config.json: rope_scaling.type is missing")
	} else if err := json.Unmarshal(raw, &typ); err != nil {
		return "", fmt.Errorf("config.json: rope_scaling.type must be a string, got %s", raw)
	}
	delete(rs, "type")
	fields, ok := HFRopeScalings[typ]
	if !ok {
		return "", fmt.Errorf("config.json: rope_scaling type %q is not supported (deepc computes %s)", typ, strings.Join(slices.Sorted(maps.Keys(HFRopeScalings)), ", "))
	}
	parts := []string{"type = " + strconv.Quote(typ)}
	for _, f := range fields {
		key := "rope_scaling." + f.Name
		raw, ok := rs[f.Name]
		delete(rs, f.Name)
		var v string
		switch {
		case ok:
			if v, err = hfValue(key, f.Kind, raw); err != nil {
				return "", err
			}
		case math.IsNaN(f.Default):
			return "", fmt.Errorf("config.json: %s is missing", key)
		case f.Kind == HFInt:
			v = strconv.FormatInt(int64(f.Default), 10)
		default:
			v = dslFloat(f.Default)
		}
		parts = append(parts, f.Name+" = "+v)
	}
	if len(rs) > 0 {
		keys := make([]string, 0, len(rs))
		for k := range rs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return "", fmt.Errorf("config.json: rope_scaling (%s) has fields deepc does not model: %s", typ, strings.Join(keys, ", "))
	}
	return "{" + strings.Join(parts, ", ") + "}", nil
}

func quantSets(raw json.RawMessage) ([]string, error) {
	if raw == nil || isNull(raw) {
		return []string{"weight_dtype=bf16", "weight_quant=none"}, nil
	}
	var q struct {
		QuantMethod      *string  `json:"quant_method"`
		Fmt              *string  `json:"fmt"`
		ActivationScheme *string  `json:"activation_scheme"`
		WeightBlockSize  *[]int64 `json:"weight_block_size"`
	}
	if err := json.Unmarshal(raw, &q); err != nil {
		return nil, fmt.Errorf("config.json: quantization_config: %v", err)
	}
	switch {
	case q.QuantMethod == nil || *q.QuantMethod != "fp8":
		return nil, fmt.Errorf("config.json: quantization_config.quant_method must be \"fp8\", got %s", strOrAbsent(q.QuantMethod))
	case q.Fmt != nil && *q.Fmt != "e4m3":
		return nil, fmt.Errorf("config.json: quantization_config.fmt must be \"e4m3\", got %q", *q.Fmt)
	case q.ActivationScheme != nil && *q.ActivationScheme != "dynamic":
		return nil, fmt.Errorf("config.json: quantization_config.activation_scheme must be \"dynamic\", got %q", *q.ActivationScheme)
	case q.WeightBlockSize == nil:
		return nil, fmt.Errorf("config.json: quantization_config.weight_block_size is missing")
	}
	b := *q.WeightBlockSize
	if len(b) != 2 || b[0] <= 0 || b[1] <= 0 {
		return nil, fmt.Errorf("config.json: quantization_config.weight_block_size must be two positive ints, got %v", b)
	}
	return []string{"weight_dtype=f8e4m3", fmt.Sprintf("weight_quant=block(%d, %d)", b[0], b[1])}, nil
}

func strOrAbsent(s *string) string {
	if s == nil {
		return "nothing"
	}
	return strconv.Quote(*s)
}

// HFConfigJSON writes the config.json of a compiled module through its
// checkpoint contract: the architecture, every mapped config key under its
// Hugging Face name (none and nullable zeros as null), every fixed value,
// and quantization_config for block-quantized fp8 weights; reading it back
// (Sets) compiles the same model. Deterministic.
func HFConfigJSON(m *ir.Module) ([]byte, error) {
	c, err := ContractOf(m)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"architectures": []string{c.Architecture}}
	if dt, ok := c.config["act_dtype"].(ir.DType); ok {
		if name, ok := torchDTypes[dt]; ok {
			out["torch_dtype"] = name
		}
	}
	for hf, v := range c.Fixed {
		out[hf] = jsonValue(v)
	}
	for hf, key := range c.Map {
		v, ok := c.config[key]
		switch {
		case !ok: // none
			out[hf] = nil
		case c.Nullable[hf] && v == int64(0):
			out[hf] = nil
		default:
			if _, isType := v.(ir.DType); isType {
				return nil, fmt.Errorf("config %s: a dtype cannot be written to config.json", key)
			}
			out[hf] = jsonValue(v)
		}
	}
	// Hugging Face's dynamic NTK reads its original context from here.
	if rs, ok := c.config[c.Map["rope_scaling"]].(ir.Attrs); ok {
		if typ, _ := rs.Str("type"); typ == "dynamic" {
			out["max_position_embeddings"] = rs["original_max_position_embeddings"]
		}
	}
	if c.hasKeys("weight_dtype") {
		wd, _ := c.config["weight_dtype"].(ir.DType)
		wq, hasQuant := c.config.Ints("weight_quant")
		switch {
		case wd == ir.F8E4M3 && hasQuant && len(wq) == 2:
			out["quantization_config"] = map[string]any{
				"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": wq,
			}
		case wd == ir.BF16 && !hasQuant:
		default:
			return nil, fmt.Errorf("config.json can say fp8 with block quantization or bf16 weights, not weight_dtype %s with weight_quant %v", wd, c.config["weight_quant"])
		}
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
