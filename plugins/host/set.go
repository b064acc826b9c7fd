package host

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/internal/suggest"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
)

// Set is the plugins of one deepc run.
type Set struct {
	Plugins []*Plugin
}

// StartAll starts the plugins at paths in order; on an error the ones
// already started are closed. A checksum for a name that is none of the
// plugins' is an error before any starts: the binary it was meant to pin
// would otherwise run unchecked.
func StartAll(paths []string, cfg Config) (*Set, error) {
	if err := checkPins(paths, cfg.SHA256); err != nil {
		return nil, err
	}
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

// checkPins refuses a pinned name that matches no path, as given or by
// its base name (what Start looks up).
func checkPins(paths []string, sums map[string]string) error {
	var names []string
	for _, path := range paths {
		names = append(names, path, filepath.Base(path))
	}
	for _, pin := range slices.Sorted(maps.Keys(sums)) {
		if slices.Contains(names, pin) {
			continue
		}
		if len(paths) == 0 {
			return fmt.Errorf("--plugin-sha256 %s: no plugins are loaded", pin)
		}
		msg := fmt.Sprintf("--plugin-sha256 %s: no plugin loaded has that path or file name", pin)
		if c := suggest.Closest(pin, names); c != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", c)
		}
		return fmt.Errorf("%s; the plugins: %s", msg, strings.Join(paths, ", "))
	}
	return nil
}

// Close stops every plugin of the set; with Config.Log, what they wrote
// since their last pass goes there.
func (s *Set) Close() {
	for _, p := range s.Plugins {
		p.Close()
		p.flushLog(true)
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
// built-in pass or another plugin is an error, and so is an anchor that
// names no pass (the pass would never run where its author meant).
func (s *Set) Registry(base *passes.Registry) (*passes.Registry, error) {
	r := base.Clone()
	for _, ps := range s.Passes() {
		if other, ok := r.Lookup(ps.Name()); ok {
			from := "a built-in pass"
			if o, ok := other.(*Pass); ok {
				from = "a pass of plugin " + o.p.Name()
				if o.p.SHA256 == ps.p.SHA256 {
					return nil, fmt.Errorf("plugin %s is loaded twice (%s and %s; --plugin adds to $DEEPC_PLUGINS)", ps.p.Name(), o.p.Path, ps.p.Path)
				}
			}
			return nil, fmt.Errorf("plugin %s: pass %s has the name of %s", ps.p.Name(), ps.Name(), from)
		}
		if err := r.Add(ps); err != nil {
			return nil, fmt.Errorf("plugin %s: %v", ps.p.Name(), err)
		}
	}
	for _, ps := range s.Passes() {
		if err := r.CheckAnchor(passes.Anchored{Name: ps.Name(), Anchor: ps.Anchor(), Owner: ps.p.Name()}); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Place puts each plugin pass that the pipeline does not name next to its
// anchor (after or before the anchor's first occurrence). A pass whose
// anchor is not in the pipeline is left out, with a note in notes; one
// without an anchor runs only when named.
func (s *Set) Place(pipeline string) (string, []string) {
	var ps []passes.Anchored
	for _, p := range s.Passes() {
		ps = append(ps, passes.Anchored{Name: p.Name(), Anchor: p.Anchor(), Owner: p.p.Name()})
	}
	return passes.Place(pipeline, ps)
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
