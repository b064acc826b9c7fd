package host

import (
	"fmt"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
)

// Set is the plugins of one deepc run.
type Set struct {
	Plugins []*Plugin
}

// StartAll starts the plugins at paths in order; on an error the ones
// already started are closed.
func StartAll(paths []string, cfg Config) (*Set, error) {
	s := &Set{}
	for _, path := range paths {
		p, err := Start(path, cfg)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Plugins = append(s.Plugins, p)
	}
	return s, nil
}

// Close stops every plugin of the set.
func (s *Set) Close() {
	for _, p := range s.Plugins {
		p.Close()
	}
}

// Passes lists the plugins' passes in load order.
func (s *Set) Passes() []*Pass {
	var out []*Pass
	for _, p := range s.Plugins {
		out = append(out, p.Passes()...)
	}
	return out
}

// Registry returns base with the plugins' passes added; a name taken by a
// built-in pass or another plugin is an error.
func (s *Set) Registry(base *passes.Registry) (*passes.Registry, error) {
	r := base.Clone()
	for _, ps := range s.Passes() {
		if other, ok := r.Lookup(ps.Name()); ok {
			from := "a built-in pass"
			if o, ok := other.(*Pass); ok {
				from = "a pass of plugin " + o.p.Name()
			}
			return nil, fmt.Errorf("plugin %s: pass %s has the name of %s", ps.p.Name(), ps.Name(), from)
		}
		if err := r.Add(ps); err != nil {
			return nil, fmt.Errorf("plugin %s: %v", ps.p.Name(), err)
		}
	}
	return r, nil
}

// Place puts each plugin pass that the pipeline does not name next to its
// anchor (after or before the anchor's first occurrence). A pass whose
// anchor is not in the pipeline is left out, with a note in notes; one
// without an anchor runs only when named.
func (s *Set) Place(pipeline string) (string, []string) {
	var names []string
	if strings.TrimSpace(pipeline) != "" {
		for _, n := range strings.Split(pipeline, ",") {
			names = append(names, strings.TrimSpace(n))
		}
	}
	var notes []string
	for _, ps := range s.Passes() {
		if slices.Contains(names, ps.Name()) || ps.Anchor() == "" {
			continue
		}
		where, anchor, _ := strings.Cut(ps.Anchor(), ":")
		i := slices.Index(names, anchor)
		if i < 0 {
			notes = append(notes, fmt.Sprintf("plugin pass %s (plugin %s) not run: its anchor %s is not in the pipeline %q; name it in --passes to run it", ps.Name(), ps.p.Name(), ps.Anchor(), pipeline))
			continue
		}
		if where == "after" {
			i++
		}
		names = slices.Insert(names, i, ps.Name())
	}
	return strings.Join(names, ","), notes
}

// Attrs records the plugins for the compile output: name → {version,
// sha256}.
func (s *Set) Attrs() ir.Attrs {
	a := ir.Attrs{}
	for _, p := range s.Plugins {
		a[p.Name()] = ir.Attrs{"version": p.Manifest.Version, "sha256": p.SHA256}
	}
	return a
}
