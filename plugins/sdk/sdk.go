// Package sdk is how a deepc pass plugin is written in Go: declare the
// plugin and its passes, and call Serve from main.
//
//	func main() {
//		sdk.Serve(sdk.Plugin{
//			Name:    "my-plugin",
//			Version: "0.1.0",
//			Passes: []sdk.Pass{{
//				Name:   "my-pass",
//				Anchor: "after:canonicalize",
//				Run: func(m *ir.Module, opts sdk.Options) error {
//					// rewrite m in place
//					return nil
//				},
//			}},
//		})
//	}
//
// deepc starts the binary, sends each module as IR text; the SDK parses it,
// runs the pass, and returns the printed result, which deepc verifies.
// plugins/sdk/plugintest runs the same passes in process for `go test`.
package sdk

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
)

// Plugin is a plugin binary: a name, a version and its passes.
type Plugin struct {
	Name    string
	Version string
	Passes  []Pass
}

// Pass is one pass of a plugin.
type Pass struct {
	// Name is how pipelines (--passes) and --print-ir-after name the pass.
	Name string
	// Description is one line for `deepc passes`.
	Description string
	// Anchor places the pass in deepc's pipeline when --passes does not
	// name it: "after:<pass>" or "before:<pass>"; "" runs it only when named.
	Anchor string
	// Options declares the options the pass reads (--pass-option
	// PASS.name=value): deepc refuses an unknown name or a value not of the
	// option's type before anything runs, and sends the pass its own
	// options, each declared one present.
	Options []Option
	// Run transforms m in place (an analysis leaves it alone and reports
	// through opts.Printf). An error fails the compile with its message.
	Run func(m *ir.Module, opts Options) error
}

// Option declares one option of a pass.
type Option struct {
	Name, Description, Default string
	// Type is what values deepc accepts: String (also ""), Int, Float,
	// Bool, or Enum with the allowed Values.
	Type   OptionType
	Values []string
}

// OptionType is the type of an option's value.
type OptionType = passes.OptionType

// The option types.
const (
	String = passes.TypeString
	Int    = passes.TypeInt
	Float  = passes.TypeFloat
	Bool   = passes.TypeBool
	Enum   = passes.TypeEnum
)

// Options are the pass's options deepc was given (--pass-option
// PASS.key=value), with the declared defaults behind them, and the pass's
// report.
type Options struct {
	values   map[string]string
	defaults map[string]string
	out      *strings.Builder
}

// NewOptions makes Options from explicit values (tests and plugintest).
// A key may carry the pass's name ("my-pass.k", as on deepc's command
// line); keys of other passes are ignored.
func NewOptions(p Pass, values map[string]string) Options {
	o := Options{values: map[string]string{}, defaults: map[string]string{}, out: &strings.Builder{}}
	for _, d := range p.Options {
		o.defaults[d.Name] = d.Default
	}
	for k, v := range values {
		if !strings.Contains(k, ".") {
			o.values[k] = v
		}
	}
	// Qualified keys go second: they say which pass they are meant for.
	for k, v := range values {
		if name, ok := strings.CutPrefix(k, p.Name+"."); ok {
			o.values[name] = v
		}
	}
	return o
}

// String returns the option's value, or its declared default.
func (o Options) String(name string) string {
	if v, ok := o.values[name]; ok {
		return v
	}
	return o.defaults[name]
}

// Int reads an integer option.
func (o Options) Int(name string) (int64, error) {
	v := o.String(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("option %s = %q: want an integer", name, v)
	}
	return n, nil
}

// Float reads a number option.
func (o Options) Float(name string) (float64, error) {
	v := o.String(name)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("option %s = %q: want a number", name, v)
	}
	return f, nil
}

// Bool reads a boolean option (true/false/1/0).
func (o Options) Bool(name string) (bool, error) {
	v := o.String(name)
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("option %s = %q: want true or false", name, v)
	}
	return b, nil
}

// Printf adds to the pass's report, which deepc prints.
func (o Options) Printf(format string, args ...any) { fmt.Fprintf(o.out, format, args...) }

// Output is the report so far.
func (o Options) Output() string { return o.out.String() }

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// Check reports what is wrong with a plugin declaration, if anything.
func (p Plugin) Check() error {
	if !nameRE.MatchString(p.Name) {
		return fmt.Errorf("plugin name %q: want lower-case words joined by '-'", p.Name)
	}
	if len(p.Passes) == 0 {
		return fmt.Errorf("plugin %s declares no passes", p.Name)
	}
	seen := map[string]bool{}
	for _, ps := range p.Passes {
		switch {
		case !nameRE.MatchString(ps.Name):
			return fmt.Errorf("plugin %s: pass name %q: want lower-case words joined by '-'", p.Name, ps.Name)
		case seen[ps.Name]:
			return fmt.Errorf("plugin %s: pass %s declared twice", p.Name, ps.Name)
		case ps.Run == nil:
			return fmt.Errorf("plugin %s: pass %s has no Run", p.Name, ps.Name)
		}
		if err := CheckAnchor(ps.Anchor); err != nil {
			return fmt.Errorf("plugin %s: pass %s: %v", p.Name, ps.Name, err)
		}
		if err := passes.CheckOptionDecls(ps.Decls()); err != nil {
			return fmt.Errorf("plugin %s: pass %s: %v", p.Name, ps.Name, err)
		}
		seen[ps.Name] = true
	}
	return nil
}

// CheckAnchor validates an anchor: "", "after:<pass>" or "before:<pass>".
func CheckAnchor(a string) error {
	if a == "" {
		return nil
	}
	where, pass, ok := strings.Cut(a, ":")
	if !ok || (where != "after" && where != "before") || !nameRE.MatchString(pass) {
		return fmt.Errorf("anchor %q: want after:<pass> or before:<pass>", a)
	}
	return nil
}

// Pass returns the pass named name.
func (p Plugin) Pass(name string) (Pass, bool) {
	for _, ps := range p.Passes {
		if ps.Name == name {
			return ps, true
		}
	}
	return Pass{}, false
}

// Apply runs pass name over the module in text form and returns the
// result in text form, as a plugin process does for deepc: parse, run,
// verify (so an author sees a broken module as their own error), print.
func (p Plugin) Apply(name, module string, values map[string]string) (out string, changed bool, report string, err error) {
	ps, ok := p.Pass(name)
	if !ok {
		return "", false, "", fmt.Errorf("plugin %s has no pass %q", p.Name, name)
	}
	m, err := ir.Parse("input.ir", module)
	if err != nil {
		return "", false, "", fmt.Errorf("pass %s: the module sent by deepc does not parse: %v", name, err)
	}
	before := ir.Encode(m)
	after, report, err := apply(ps, m, values)
	if err != nil {
		return "", false, report, err
	}
	return ir.Print(m), !bytes.Equal(after, before), report, nil
}

// ApplyBinary is Apply over the binary form (ir.Encode), which deepc
// sends to a plugin whose manifest says it reads it, as the SDK's does.
func (p Plugin) ApplyBinary(name string, module []byte, values map[string]string) (out []byte, changed bool, report string, err error) {
	ps, ok := p.Pass(name)
	if !ok {
		return nil, false, "", fmt.Errorf("plugin %s has no pass %q", p.Name, name)
	}
	m, err := ir.Decode(module)
	if err != nil {
		return nil, false, "", fmt.Errorf("pass %s: the module sent by deepc does not decode: %v", name, err)
	}
	// deepc's encoding is canonical: the bytes it sent are the "before".
	out, report, err = apply(ps, m, values)
	return out, err == nil && !bytes.Equal(out, module), report, err
}

// apply runs ps over m, verifies the result and returns it encoded: the
// binary form is canonical, so comparing encodings tells a change.
func apply(ps Pass, m *ir.Module, values map[string]string) (after []byte, report string, err error) {
	opts := NewOptions(ps, values)
	if err := run(ps, m, opts); err != nil {
		return nil, opts.Output(), fmt.Errorf("pass %s: %w", ps.Name, err)
	}
	if err := ir.Verify(m); err != nil {
		return nil, opts.Output(), fmt.Errorf("pass %s produced a module that does not verify: %w", ps.Name, err)
	}
	return ir.Encode(m), opts.Output(), nil
}

// run calls the pass, turning a panic into an error that carries the
// stack: without it an author learns that the pass panicked, not where.
func run(ps Pass, m *ir.Module, opts Options) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, panicStack(string(debug.Stack())))
		}
	}()
	return ps.Run(m, opts)
}

// panicStack keeps the frames of a recovered panic's stack from the one
// that panicked down to run's call of the pass, indented: the frames
// above are the recovery's, those below the SDK's and gRPC's.
func panicStack(stack string) string {
	runFrame := runtime.FuncForPC(reflect.ValueOf(run).Pointer()).Name() + "("
	lines := strings.Split(strings.TrimSpace(stack), "\n")
	start, end := 0, len(lines)
	for i, l := range lines {
		if start == 0 && strings.HasPrefix(l, "panic(") {
			start = i + 2 // the call of panic and its location
		}
		if strings.HasPrefix(l, runFrame) {
			end = i
			break
		}
	}
	if start >= end {
		start, end = 0, len(lines)
	}
	return "    " + strings.Join(lines[start:end], "\n    ")
}

// Decls are the pass's options as deepc declares them (the manifest
// carries the same).
func (ps Pass) Decls() []passes.Option {
	var out []passes.Option
	for _, o := range ps.Options {
		out = append(out, passes.Option{Name: o.Name, Type: o.Type, Values: o.Values, Default: o.Default, Description: o.Description})
	}
	return out
}
