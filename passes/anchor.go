package passes

import (
	"fmt"
	"slices"
	"strings"
)

// Anchored is a pass placed by its anchor, "after:P" or "before:P", when
// a pipeline does not name it (a plugin's pass; Owner names the plugin).
type Anchored struct{ Name, Anchor, Owner string }

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
