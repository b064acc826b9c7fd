package passes

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/internal/suggest"
)

// Anchored is a pass placed by its anchor, "after:P" or "before:P", when
// a pipeline does not name it (a plugin's pass; Owner names the plugin).
type Anchored struct{ Name, Anchor, Owner string }

// CheckAnchor refuses an anchor that names no pass of r, with a
// did-you-mean: a misspelt anchor would otherwise leave the pass unrun.
func (r *Registry) CheckAnchor(a Anchored) error {
	where, anchor, _ := strings.Cut(a.Anchor, ":")
	if _, ok := r.Lookup(anchor); ok || a.Anchor == "" {
		return nil
	}
	msg := fmt.Sprintf("plugin %s: pass %s: anchor %s names no pass", a.Owner, a.Name, a.Anchor)
	if c := suggest.Closest(anchor, r.Names()); c != "" {
		msg += fmt.Sprintf(" (did you mean %s:%s?)", where, c)
	}
	return errors.New(msg + "; see deepc passes")
}

// Place inserts each anchored pass that pipeline does not name next to its
// anchor, in order, and returns the new pipeline and a note for each pass
// whose anchor the pipeline lacks (those are not run).
func Place(pipeline string, ps []Anchored) (string, []string) {
	var names []string
	if strings.TrimSpace(pipeline) != "" {
		for _, n := range strings.Split(pipeline, ",") {
			names = append(names, strings.TrimSpace(n))
		}
	}
	var notes []string
	for _, p := range ps {
		if slices.Contains(names, p.Name) || p.Anchor == "" {
			continue
		}
		where, anchor, _ := strings.Cut(p.Anchor, ":")
		i := slices.Index(names, anchor)
		if i < 0 {
			notes = append(notes, fmt.Sprintf("plugin pass %s (plugin %s) not run: its anchor %s is not in the pipeline %q; name it in --passes to run it", p.Name, p.Owner, p.Anchor, pipeline))
			continue
		}
		if where == "after" {
			i++
		}
		names = slices.Insert(names, i, p.Name)
	}
	return strings.Join(names, ","), notes
}
