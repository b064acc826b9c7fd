package passes

import (
	"fmt"
	"strings"

	"github.com/deepc-dev/deepc/internal/suggest"
)

// Pipeline is an ordered list of passes whose ordering constraints have been
// checked. The zero Pipeline runs nothing.
type Pipeline struct {
	passes []Pass
}

// Passes lists the pipeline's passes in order.
func (p Pipeline) Passes() []Pass { return append([]Pass(nil), p.passes...) }

// Len is the number of passes.
func (p Pipeline) Len() int { return len(p.passes) }

// String prints the pipeline in the form ParsePipeline reads.
func (p Pipeline) String() string {
	names := make([]string, len(p.passes))
	for i, ps := range p.passes {
		names[i] = ps.Name()
	}
	return strings.Join(names, ",")
}

// ParsePipeline reads a pipeline of Default's passes; see Registry.ParsePipeline.
func ParsePipeline(s string) (Pipeline, error) { return Default.ParsePipeline(s) }

// ParsePipeline reads "name,name,...": spaces around names are ignored, an
// empty (or all-space) string is the empty pipeline. Unknown names and
// violated ordering constraints are errors.
func (r *Registry) ParsePipeline(s string) (Pipeline, error) {
	if strings.TrimSpace(s) == "" {
		return Pipeline{}, nil
	}
	var ps []Pass
	for i, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return Pipeline{}, fmt.Errorf("pipeline %q: empty pass name at position %d", s, i+1)
		}
		p, ok := r.Lookup(name)
		if !ok {
			return Pipeline{}, fmt.Errorf("pipeline %q: %w", s, r.Unknown(name))
		}
		ps = append(ps, p)
	}
	return r.NewPipeline(ps...)
}

// NewPipeline builds a pipeline from passes (registered or not), checking the
// registry's ordering constraints and each pass's requirements.
func (r *Registry) NewPipeline(ps ...Pass) (Pipeline, error) {
	p := Pipeline{passes: append([]Pass(nil), ps...)}
	if err := checkOrder(p, r.Orders()); err != nil {
		return Pipeline{}, err
	}
	if err := checkRequires(p); err != nil {
		return Pipeline{}, err
	}
	return p, nil
}

// NewPipeline builds a pipeline checked against Default's constraints.
func NewPipeline(ps ...Pass) (Pipeline, error) { return Default.NewPipeline(ps...) }

// Unknown explains an unknown pass name: the closest known name if there is
// a plausible one, and the list of known names.
func (r *Registry) Unknown(name string) error {
	known := r.Names()
	msg := fmt.Sprintf("unknown pass %q", name)
	if c := suggest.Closest(name, known); c != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", c)
	}
	return fmt.Errorf("%s; known passes: %s", msg, strings.Join(known, ", "))
}
