package opfaces

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/deepc-dev/deepc/codegen"
	"github.com/deepc-dev/deepc/internal/eval64"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/passes/autodiff"
	"github.com/deepc-dev/deepc/runtime/cpu"
)

// TestEveryOpHasEveryFace lists, per op of the table, each of its faces,
// and fails on a face that is missing: its gradient rule or the reason it
// has none (passes/autodiff), its CPU kernel (runtime/cpu), its GPU emitter
// or the reason it needs no kernel (codegen, passes), its float64 semantics
// or the reason the oracle leaves it out (internal/eval64), and its entry in
// docs/op-semantics.md. `go test -v` prints the table.
func TestEveryOpHasEveryFace(t *testing.T) {
	documented := opSemanticsEntries(t)
	var table strings.Builder
	w := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "op\tkind\tgradient\tcpu\tgpu\teval64\tdoc")
	for _, d := range ir.Ops() {
		missing := func(face, why string) string {
			t.Errorf("op %s: %s", d.Name, why)
			return "MISSING " + face
		}
		var grad, kern, gpu, ev, doc string
		switch rule, without := autodiff.Differentiable(d); {
		case rule && without != "":
			grad = missing("gradient", "has a gradient rule and a reason in autodiff's noGradient not to")
		case rule:
			grad = "rule"
		case without != "":
			grad = "none: " + without
		default:
			grad = missing("gradient", "has no gradient rule (passes/autodiff/rules.go) and no reason in noGradient")
		}
		if cpu.KernelFor(d) != nil {
			kern = "kernel"
		} else {
			kern = missing("cpu", "has no CPU kernel (runtime/cpu: register)")
		}
		family, lacks := codegen.EmitterFamily(d)
		switch why := passes.NoKernel(d); {
		case family == "" && why != "":
			gpu = "none: " + why
		case why != "":
			gpu = missing("gpu", fmt.Sprintf("has kernel family %q and a reason in passes' noKernel to need none", family))
		case lacks != "":
			gpu = missing("gpu", fmt.Sprintf("cannot be emitted in kernel family %q: %s (passes.KernelKinds; codegen's emitters and rule tables, faces.go)", family, lacks))
		default:
			gpu = family
		}
		switch ok, without := eval64.Covers(d); {
		case ok && without != "":
			ev = missing("eval64", "has float64 semantics and a reason in eval64's uncovered not to")
		case ok:
			ev = "yes"
		case without != "":
			ev = "none: " + without
		default:
			ev = missing("eval64", "has no float64 semantics (internal/eval64) and no reason in uncovered")
		}
		if documented[d.Name] {
			doc = "yes"
		} else {
			doc = missing("doc", "is not in docs/op-semantics.md")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.Kind, short(grad), kern, short(gpu), short(ev), doc)
	}
	w.Flush()
	t.Log("\n" + table.String())
}

// short keeps a reason to its first clause, for the table.
func short(s string) string {
	why, ok := strings.CutPrefix(s, "none: ")
	if !ok {
		return s
	}
	if i := strings.IndexAny(why, ":(;"); i > 0 {
		why = why[:i]
	}
	return "none: " + strings.TrimSpace(why)
}

// opSemanticsEntries returns the ops docs/op-semantics.md documents: the
// op names in the first column of its tables, which names one op or
// several (separated by spaces, '/' or ','), each with its operands in
// parentheses and its attributes in braces, which are not op names. A name
// there that is no op is an error.
func opSemanticsEntries(t *testing.T) map[string]bool {
	b, err := os.ReadFile("../../docs/op-semantics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	ident := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| op ") {
			continue
		}
		for _, name := range opNamesOfCell(strings.Split(line, "|")[1]) {
			if !ident.MatchString(name) || ir.Lookup(name) == nil {
				t.Errorf("docs/op-semantics.md: %q in the op column of %q is no op", name, line)
				continue
			}
			documented[name] = true
		}
	}
	return documented
}

// opNamesOfCell returns the words of a table cell outside parentheses and
// braces: "rms_norm(x, w) {eps}" is rms_norm, "sum / mean {axis}" sum and
// mean.
func opNamesOfCell(cell string) []string {
	var outside strings.Builder
	depth := 0
	for _, r := range cell {
		switch {
		case r == '(' || r == '{':
			depth++
		case r == ')' || r == '}':
			depth--
		case depth == 0:
			outside.WriteRune(r)
		}
	}
	return strings.FieldsFunc(outside.String(), func(r rune) bool { return r == ' ' || r == '/' || r == ',' })
}

func TestOpNamesOfCell(t *testing.T) {
	for cell, want := range map[string]string{
		" where(c, a, b) ": "where",
		" exp log sqrt ":   "exp log sqrt",
		" sum / mean / reduce_max {axis, keepdim} ":             "sum mean reduce_max",
		" reshape {shape} / expand {shape} / transpose {perm} ": "reshape expand transpose",
		" route(s) {k, groups, topk_groups, group_top = 1} ":    "route",
	} {
		if got := strings.Join(opNamesOfCell(cell), " "); got != want {
			t.Errorf("opNamesOfCell(%q) = %q, want %q", cell, got, want)
		}
	}
}
