package ir

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Attrs are an op's (or param's, or module's) compile-time attributes. A value
// is one of: int64, float64, string, bool, DType, []int64, []float64, Shape,
// Attrs. The text form prints keys sorted so printing is deterministic.
type Attrs map[string]any

// Keys returns the keys in printing order.
func (a Attrs) Keys() []string {
	ks := make([]string, 0, len(a))
	for k := range a {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Int reads an integer attribute.
func (a Attrs) Int(k string) (int64, bool) {
	v, ok := a[k].(int64)
	return v, ok
}

// Float reads a float attribute; an integer is accepted.
func (a Attrs) Float(k string) (float64, bool) {
	switch v := a[k].(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	}
	return 0, false
}

func (a Attrs) Str(k string) (string, bool) {
	v, ok := a[k].(string)
	return v, ok
}

func (a Attrs) Bool(k string) (bool, bool) {
	v, ok := a[k].(bool)
	return v, ok
}

// Ints reads an integer list attribute.
func (a Attrs) Ints(k string) ([]int64, bool) {
	v, ok := a[k].([]int64)
	return v, ok
}

// Shape reads a shape attribute; a list of integers is a constant shape.
func (a Attrs) Shape(k string) (Shape, bool) {
	switch v := a[k].(type) {
	case Shape:
		return v, true
	case []int64:
		return Consts(v...), true
	}
	return nil, false
}

func (a Attrs) Dict(k string) (Attrs, bool) {
	v, ok := a[k].(Attrs)
	return v, ok
}

// Clone copies a (deeply for nested dicts and lists).
func (a Attrs) Clone() Attrs {
	if a == nil {
		return nil
	}
	c := make(Attrs, len(a))
	for k, v := range a {
		switch v := v.(type) {
		case Attrs:
			c[k] = v.Clone()
		case []int64:
			c[k] = slices.Clone(v)
		case []float64:
			c[k] = slices.Clone(v)
		case Shape:
			c[k] = slices.Clone(v)
		default:
			c[k] = v
		}
	}
	return c
}

// String prints the attributes as `{k = v, ...}`, or "" when empty.
func (a Attrs) String() string {
	if len(a) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range a.Keys() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteName(k))
		b.WriteString(" = ")
		b.WriteString(FormatAttr(a[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// FormatAttr prints one attribute value in the text form.
func FormatAttr(v any) string {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return formatFloat(v)
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case DType:
		return v.String()
	case []int64:
		parts := make([]string, len(v))
		for i, n := range v {
			parts[i] = strconv.FormatInt(n, 10)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []float64:
		parts := make([]string, len(v))
		for i, f := range v {
			parts[i] = formatFloat(f)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case Shape:
		return v.String()
	case Attrs:
		if len(v) == 0 {
			return "{}"
		}
		return v.String()
	}
	return fmt.Sprintf("<bad attr %T>", v)
}

// formatFloat prints the shortest text that parses back to the same float64
// and always reads as a float (never as an integer).
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".en") {
		s += ".0"
	}
	return s
}

func attrEqual(a, b any) bool {
	switch a := a.(type) {
	case []int64:
		b, ok := b.([]int64)
		return ok && slices.Equal(a, b)
	case []float64:
		b, ok := b.([]float64)
		return ok && slices.Equal(a, b)
	case Shape:
		b, ok := b.(Shape)
		return ok && a.Equal(b)
	case Attrs:
		b, ok := b.(Attrs)
		return ok && a.Equal(b)
	case float64:
		b, ok := b.(float64)
		return ok && (a == b || math.IsNaN(a) && math.IsNaN(b))
	}
	return a == b
}

// Equal compares two attribute sets by value.
func (a Attrs) Equal(b Attrs) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !attrEqual(v, w) {
			return false
		}
	}
	return true
}

// quoteName leaves identifiers (letters, digits, '_', '.') bare and quotes
// anything else, so checkpoint names with braces survive the text form.
func quoteName(s string) string {
	if isBareName(s) {
		return s
	}
	return strconv.Quote(s)
}

// isBareName reports whether s reads back as one identifier token. "inf" and
// "nan" are excluded: the lexer reads them as float literals.
func isBareName(s string) bool {
	if s == "" || s == "inf" || s == "nan" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case (r >= '0' && r <= '9' || r == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}
