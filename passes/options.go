package passes

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/deepc-dev/deepc/internal/suggest"
)

// OptionType is the type of a pass option's value. Values always travel as
// text; the type says which texts a pass accepts, so that a typo is refused
// before any pass runs rather than in the middle of a pipeline.
type OptionType string

const (
	TypeString OptionType = "string"
	TypeInt    OptionType = "int"
	TypeFloat  OptionType = "float"
	TypeBool   OptionType = "bool"
	TypeEnum   OptionType = "enum"
)

// Option declares one option of a pass: the key of --pass-option
// PASS.key=value, what it accepts, and its default.
type Option struct {
	Name        string
	Type        OptionType // "" is TypeString
	Values      []string   // TypeEnum: the allowed values
	Default     string
	Description string
}

// Configurable is implemented by passes that take options.
type Configurable interface {
	Options() []Option
}

// OptionsOf lists the options p declares (none when it declares none).
func OptionsOf(p Pass) []Option {
	if c, ok := p.(Configurable); ok {
		return c.Options()
	}
	return nil
}

// NewPassWithOptions is NewPass for a pass that takes options; it reads
// them with ctx.Option and ctx.IntOption.
func NewPassWithOptions(name, description string, opts []Option, run RunFunc, requires ...string) Pass {
	return &funcPass{name: name, desc: description, run: run, requires: requires, opts: opts}
}

func (p *funcPass) Options() []Option { return p.opts }

// checkers says, per type, whether a value is one of the type's, and what
// the type wants when it is not.
var checkers = map[OptionType]struct {
	ok   func(o Option, v string) bool
	want func(o Option) string
}{
	TypeString: {func(Option, string) bool { return true }, func(Option) string { return "a string" }},
	TypeInt: {func(_ Option, v string) bool { _, err := strconv.ParseInt(v, 10, 64); return err == nil },
		func(Option) string { return "an integer" }},
	// A float option is a finite number: no pass means NaN or infinity.
	TypeFloat: {func(_ Option, v string) bool {
		f, err := strconv.ParseFloat(v, 64)
		return err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	},
		func(Option) string { return "a finite number" }},
	TypeBool: {func(_ Option, v string) bool { _, err := strconv.ParseBool(v); return err == nil },
		func(Option) string { return "true or false (or 1, 0, t, f)" }},
	TypeEnum: {func(o Option, v string) bool { return slices.Contains(o.Values, v) },
		func(o Option) string { return "one of " + strings.Join(o.Values, ", ") }},
}

// TypeOf is the option's type, "" read as TypeString.
func (o Option) TypeOf() OptionType {
	if o.Type == "" {
		return TypeString
	}
	return o.Type
}

// Check refuses a value that is not of the option's type.
func (o Option) Check(value string) error {
	c := checkers[o.TypeOf()]
	if c.ok == nil {
		return fmt.Errorf("option %s has unknown type %q", o.Name, o.Type)
	}
	if c.ok(o, value) {
		return nil
	}
	msg := fmt.Sprintf("%q is not %s", value, c.want(o))
	if o.TypeOf() == TypeEnum {
		if s := suggest.Closest(value, o.Values); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
	}
	return fmt.Errorf("option %s: %s", o.Name, msg)
}

// optionNameRE is the shape of an option name: it must read back from
// PASS.key=value, so no '.' or '='.
var optionNameRE = regexp.MustCompile(`^[a-z][a-z0-9]*([-_][a-z0-9]+)*$`)

// CheckDecl reports what is wrong with a declaration: its name, its type,
// an enum without values, a default that is not a value of the type.
func (o Option) CheckDecl() error {
	switch {
	case !optionNameRE.MatchString(o.Name):
		return fmt.Errorf("option name %q: want lower-case words joined by '-' or '_'", o.Name)
	case checkers[o.TypeOf()].ok == nil:
		return fmt.Errorf("option %s: type %q: want one of %s", o.Name, o.Type, strings.Join(OptionTypes(), ", "))
	case o.TypeOf() == TypeEnum && len(o.Values) == 0:
		return fmt.Errorf("option %s: an enum needs its values", o.Name)
	case o.TypeOf() != TypeEnum && len(o.Values) > 0:
		return fmt.Errorf("option %s: values are for enums, and the type is %s", o.Name, o.TypeOf())
	}
	if err := o.Check(o.Default); err != nil {
		return fmt.Errorf("default: %w", err)
	}
	return nil
}

// OptionTypes lists the type names, sorted.
func OptionTypes() []string {
	var ts []string
	for t := range checkers {
		ts = append(ts, string(t))
	}
	slices.Sort(ts)
	return ts
}

// CheckOptionDecls checks a pass's declarations, and that no name repeats.
func CheckOptionDecls(opts []Option) error {
	seen := map[string]bool{}
	for _, o := range opts {
		if err := o.CheckDecl(); err != nil {
			return err
		}
		if seen[o.Name] {
			return fmt.Errorf("option %s declared twice", o.Name)
		}
		seen[o.Name] = true
	}
	return nil
}

// PassOptions are options by pass, then by key, each checked against the
// pass's declaration: what Registry.ResolveOptions makes of --pass-option.
type PassOptions map[string]map[string]string

// For is what p gets: its own options, every declared one present, the
// given value or else the default.
func (o PassOptions) For(p Pass) map[string]string {
	out := map[string]string{}
	for _, d := range OptionsOf(p) {
		out[d.Name] = d.Default
	}
	maps.Copy(out, o[p.Name()])
	return out
}

// CheckIn refuses options for a pass the pipeline does not run: they
// would do nothing, silently.
func (o PassOptions) CheckIn(pl Pipeline) error {
	var names []string
	for _, p := range pl.passes {
		names = append(names, p.Name())
	}
	for _, pass := range slices.Sorted(maps.Keys(o)) {
		if !slices.Contains(names, pass) {
			return fmt.Errorf("options for pass %s, which the pipeline %q does not run", pass, pl.String())
		}
	}
	return nil
}

// ResolveFor is ResolveOptions for pipeline pl: options for a pass pl does
// not run are refused too. Errors read as the --pass-option flag's.
func (r *Registry) ResolveFor(pl Pipeline, kvs []string) (PassOptions, error) {
	opts, err := r.ResolveOptions(kvs)
	if err != nil {
		return nil, fmt.Errorf("--pass-option %w", err)
	}
	if err := opts.CheckIn(pl); err != nil {
		return nil, fmt.Errorf("--pass-option: %w", err)
	}
	return opts, nil
}

// ResolveOptions reads key=value pairs into each pass's options. A key is
// PASS.name, or a bare name that exactly one of r's passes declares. An
// unknown pass or name, an ambiguous bare name, or a value not of the
// option's type is an error; a later value for the same option wins.
func (r *Registry) ResolveOptions(kvs []string) (PassOptions, error) {
	out := PassOptions{}
	for _, kv := range kvs {
		key, value, ok := strings.Cut(kv, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" {
			return nil, fmt.Errorf("%q: want PASS.key=value", kv)
		}
		p, opt, err := r.option(key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kv, err)
		}
		if err := opt.Check(value); err != nil {
			return nil, fmt.Errorf("%s: pass %s: %w", kv, p.Name(), err)
		}
		if out[p.Name()] == nil {
			out[p.Name()] = map[string]string{}
		}
		out[p.Name()][opt.Name] = value
	}
	return out, nil
}

// option finds the pass and the declaration a key names.
func (r *Registry) option(key string) (Pass, Option, error) {
	if pass, name, ok := strings.Cut(key, "."); ok {
		p, ok := r.Lookup(pass)
		if !ok {
			return nil, Option{}, r.Unknown(pass)
		}
		for _, o := range OptionsOf(p) {
			if o.Name == name {
				return p, o, nil
			}
		}
		return nil, Option{}, unknownOption(p, name)
	}
	var owners []Pass
	var found Option
	var names, qualified []string // every pass's options
	for _, p := range r.All() {
		for _, o := range OptionsOf(p) {
			names = append(names, o.Name)
			qualified = append(qualified, p.Name()+"."+o.Name)
			if o.Name == key {
				owners, found = append(owners, p), o
			}
		}
	}
	switch len(owners) {
	case 1:
		return owners[0], found, nil
	case 0:
		if len(qualified) == 0 {
			return nil, Option{}, fmt.Errorf("no pass has an option %q; no pass takes options", key)
		}
		msg := fmt.Sprintf("no pass has an option %q", key)
		if c := suggest.Closest(key, names); c != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", c)
		}
		return nil, Option{}, fmt.Errorf("%s; the options: %s", msg, strings.Join(qualified, ", "))
	}
	var ps, write []string
	for _, p := range owners {
		ps = append(ps, p.Name())
		write = append(write, p.Name()+"."+key)
	}
	return nil, Option{}, fmt.Errorf("option %q is ambiguous: passes %s take it; write %s", key, strings.Join(ps, ", "), strings.Join(write, " or "))
}

// unknownOption explains a name p does not declare: the closest one, and
// all of them.
func unknownOption(p Pass, name string) error {
	var names []string
	for _, o := range OptionsOf(p) {
		names = append(names, o.Name)
	}
	if len(names) == 0 {
		return fmt.Errorf("pass %s takes no options", p.Name())
	}
	msg := fmt.Sprintf("pass %s has no option %q", p.Name(), name)
	if c := suggest.Closest(name, names); c != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", c)
	}
	return fmt.Errorf("%s; its options: %s", msg, strings.Join(names, ", "))
}
