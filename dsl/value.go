package dsl

import (
	"fmt"
	"strings"

	"github.com/deepc-dev/deepc/ir"
)

// Compile-time values. A value is one of:
//
//	int64, float64, string, bool, ir.DType, nil (none),
//	ir.Dim (a symbolic dim such as T), *Struct, List, Tuple,
//	*ir.Value (a tensor in the graph being built), *Block (a block to call).
type (
	List  []any
	Tuple []any
)

// Struct is an ordered record, such as a config's rope_scaling setting.
type Struct struct {
	Keys   []string
	Fields map[string]any
}

func (s *Struct) Get(k string) (any, bool) {
	v, ok := s.Fields[k]
	return v, ok
}

func (s *Struct) Set(k string, v any) {
	if _, ok := s.Fields[k]; !ok {
		s.Keys = append(s.Keys, k)
	}
	s.Fields[k] = v
}

func newStruct() *Struct { return &Struct{Fields: map[string]any{}} }

// kindOf names a value's kind for error messages.
func kindOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "string"
	case bool:
		return "bool"
	case ir.DType:
		return "dtype"
	case ir.Dim:
		return "dim"
	case *Struct:
		return "struct"
	case List:
		return "list"
	case Tuple:
		return fmt.Sprintf("tuple of %d", len(v))
	case *ir.Value:
		return "tensor " + v.Type.String()
	case *Block:
		return "block"
	}
	return fmt.Sprintf("%T", v)
}

// show prints a compile-time value for messages. A value built in a loop
// can be nested or long without end; show prints a few levels and items.
func show(v any) string { return showN(v, 4) }

// showItems is how many items of a list or struct show prints.
const showItems = 16

func showN(v any, depth int) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case string:
		return fmt.Sprintf("%q", clip(v, maxMessage))
	case float64:
		return ir.FormatAttr(v)
	case *Struct:
		if depth == 0 {
			return "{…}"
		}
		var parts []string
		for i, k := range v.Keys {
			if i == showItems {
				parts = append(parts, "…")
				break
			}
			parts = append(parts, k+" = "+showN(v.Fields[k], depth-1))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case List:
		if depth == 0 {
			return "[…]"
		}
		var parts []string
		for i, x := range v {
			if i == showItems {
				parts = append(parts, "…")
				break
			}
			parts = append(parts, showN(x, depth-1))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *ir.Value:
		return "tensor " + v.Type.String()
	case *Block:
		return "block " + v.Name
	}
	return fmt.Sprint(v)
}

// toAttr converts a compile-time value into an IR attribute value. A
// struct built in a loop (`s = {a = s}`) nests without a bracket in the
// source, and the IR printer and parser recurse over attributes: past
// maxNesting levels it is refused.
func toAttr(v any) (any, error) { return toAttrN(v, maxNesting) }

func toAttrN(v any, depth int) (any, error) {
	switch v := v.(type) {
	case int64, float64, string, bool, ir.DType:
		return v, nil
	case ir.Dim:
		if v.IsSym() {
			return nil, fmt.Errorf("symbolic dim %s cannot be an attribute", v.Sym)
		}
		return v.N, nil
	case *Struct:
		if depth == 0 {
			return nil, fmt.Errorf("a struct nested more than %d levels deep cannot be an attribute", maxNesting)
		}
		a := ir.Attrs{}
		for _, k := range v.Keys {
			if v.Fields[k] == nil {
				continue
			}
			x, err := toAttrN(v.Fields[k], depth-1)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", k, err)
			}
			a[k] = x
		}
		return a, nil
	case List:
		return listAttr(v)
	}
	return nil, fmt.Errorf("a %s cannot be an attribute", kindOf(v))
}

// listAttr turns a list into []int64, []float64, or a Shape when it holds
// symbolic dims.
func listAttr(l List) (any, error) {
	var ints []int64
	var floats []float64
	var shape ir.Shape
	hasSym, hasFloat := false, false
	for _, x := range l {
		switch x := x.(type) {
		case int64:
			ints = append(ints, x)
			floats = append(floats, float64(x))
			shape = append(shape, ir.C(x))
		case float64:
			hasFloat = true
			floats = append(floats, x)
		case ir.Dim:
			hasSym = hasSym || x.IsSym()
			ints = append(ints, x.N)
			shape = append(shape, x)
		default:
			return nil, fmt.Errorf("a list of %s cannot be an attribute", kindOf(x))
		}
	}
	switch {
	case hasSym && hasFloat:
		return nil, fmt.Errorf("a list cannot mix dims and floats")
	case hasSym:
		return shape, nil
	case hasFloat:
		return floats, nil
	}
	if ints == nil {
		ints = []int64{}
	}
	return ints, nil
}

// toDim converts an int or dim value to a shape dim.
func toDim(v any) (ir.Dim, error) {
	switch v := v.(type) {
	case int64:
		if v <= 0 {
			return ir.Dim{}, fmt.Errorf("dims must be positive, got %d", v)
		}
		return ir.C(v), nil
	case ir.Dim:
		return v, nil
	}
	return ir.Dim{}, fmt.Errorf("a dim must be an int or a symbol, got %s", kindOf(v))
}

// dimValue turns a dim back into a compile-time value: constant dims are ints.
func dimValue(d ir.Dim) any {
	if d.IsSym() {
		return d
	}
	return d.N
}

// sameKind reports whether an override value fits where the default was.
func sameKind(def, v any) (any, bool) {
	switch def.(type) {
	case float64:
		if n, ok := v.(int64); ok {
			return float64(n), true
		}
	case nil:
		return v, true
	}
	if v == nil {
		return v, true
	}
	return v, kindOf(def) == kindOf(v)
}

// article prefixes a kind with "a" or "an".
func article(kind string) string {
	if strings.IndexByte("aeiou", kind[0]) >= 0 {
		return "an " + kind
	}
	return "a " + kind
}

// plural writes n and the noun, with an s when n != 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
