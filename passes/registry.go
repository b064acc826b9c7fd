package passes

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"sync"
)

// Registry maps pass names to passes and holds the ordering constraints
// pipelines built from it must respect. Default holds the built-in passes;
// tests and embedders may build their own.
type Registry struct {
	mu     sync.RWMutex
	passes map[string]Pass
	order  []Order
}

// NewRegistry returns an empty registry with the given ordering constraints.
func NewRegistry(order ...Order) *Registry {
	return &Registry{passes: map[string]Pass{}, order: slices.Clone(order)}
}

// Default is the registry of built-in passes (and plugins' passes, once
// loaded), with passOrder as its constraints.
var Default = NewRegistry(passOrder...)

// nameRE is the shape of a pass name: it must read back from a pipeline
// string without quoting.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// reserved names mean something else to the instruments' pass sets.
var reserved = map[string]bool{"all": true}

// Add registers p, refusing a bad or duplicate name and bad option
// declarations.
func (r *Registry) Add(p Pass) error {
	name := p.Name()
	switch {
	case reserved[name]:
		return fmt.Errorf("pass name %q is reserved", name)
	case !nameRE.MatchString(name):
		return fmt.Errorf("bad pass name %q: want lower-case words joined by '-'", name)
	}
	if err := CheckOptionDecls(OptionsOf(p)); err != nil {
		return fmt.Errorf("pass %s: %v", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.passes[name]; dup {
		return fmt.Errorf("pass %q registered twice", name)
	}
	r.passes[name] = p
	return nil
}

// Lookup finds a pass by name.
func (r *Registry) Lookup(name string) (Pass, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.passes[name]
	return p, ok
}

// All lists the registered passes sorted by name.
func (r *Registry) All() []Pass {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ps := make([]Pass, 0, len(r.passes))
	for _, p := range r.passes {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b Pass) int { return cmp.Compare(a.Name(), b.Name()) })
	return ps
}

// Names lists the registered pass names, sorted.
func (r *Registry) Names() []string {
	var ns []string
	for _, p := range r.All() {
		ns = append(ns, p.Name())
	}
	return ns
}

// AddOrder adds an ordering constraint (a plugin anchoring its pass
// "after:fuse-mla" adds one).
func (r *Registry) AddOrder(o Order) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.order = append(r.order, o)
}

// Orders lists the registry's ordering constraints.
func (r *Registry) Orders() []Order {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.order)
}

// Register adds p to Default and panics on a bad or duplicate name, as
// registration happens in init functions where an error has nowhere to go.
func Register(p Pass) {
	if err := Default.Add(p); err != nil {
		panic("passes: " + err.Error())
	}
}

// Lookup finds a pass in Default.
func Lookup(name string) (Pass, bool) { return Default.Lookup(name) }

// All lists Default's passes sorted by name.
func All() []Pass { return Default.All() }

// Clone returns a registry with r's passes and constraints, to which more
// passes (a run's plugins) can be added without touching r.
func (r *Registry) Clone() *Registry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c := NewRegistry(r.order...)
	for k, p := range r.passes {
		c.passes[k] = p
	}
	return c
}
