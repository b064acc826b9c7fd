package opfaces

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/internal/gosrc"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
)

// TestNoOpNameStrings: outside ir, an op is named by its handle (ir.OpAdd),
// never by a string, since a misspelt string compiles and silently never
// matches. The check is syntactic, over the non-test Go files of every
// package that imports ir (but notOps). A string literal that names an op
// may not be compared with a .Name, be a case of a switch on a .Name (or of
// a switch whose cases are all op names), key a map literal whose keys are
// all op names, index anything, fill a []string of op names, or be passed
// to a function (ir.Lookup, a table's register, a helper that matches ops
// by name) other than ir's builders by name (byName). Nor may a function of
// package strings be given a kernel-name prefix, a region kind and an op
// name ("gemm_linear"): kernels are selected by their regions' ops.
func TestNoOpNameStrings(t *testing.T) {
	found, err := opNameStrings("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("%s: %s: name the op by its handle (ir.Op...), not by a string", f.pos, f.key)
	}
}

// The check finds each kind of violation it is meant to.
func TestOpNameStringsFindsViolations(t *testing.T) {
	src := `package p

import "github.com/deepc-dev/deepc/ir"

var table = map[string]int{"add": 1, "rope": 2}
var names = []string{"exp", "log"}

func f(op, v *Op, name string, m map[string]bool) {
	_ = op.Name == "linear"
	_ = op.Name != "linaer"
	_ = op.Name == "rms_nrm"
	_ = "param" != v.Def.Name
	switch op.Def().Name {
	case "rms_norm":
	}
	switch name {
	case "add", "sub":
	}
	m["softmax"] = true
	_ = ir.Lookup("topk")
	register("exp", nil)
	_ = defOf(v, "concat")
	// Not op names, or not matching ops:
	_ = op.Name == "forward"
	_ = op.Name == "type"
	_ = op.Name == "ng"
	_ = table["nothing"]
	switch name {
	case "add":
	case "min":
	}
	b.Emit1("add", nil, nil)
	_ = strings.HasPrefix(k, "gemm_linear")
	_ = strings.Contains(k, "attention_attention_")
	_ = strings.HasPrefix(k, "rows_reduce_max")
	// Not kernel-name prefixes with an op, or not matched by package strings:
	_ = strings.HasPrefix(k, "gemm_")
	_ = strings.HasPrefix(k, "gemm_linearity")
	_ = strings.HasPrefix(k, "linear_gemm")
	_ = fmt.Sprintf("gemm_linear%d", 1)
}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	found, err := opNameStrings(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, strings.TrimPrefix(f.key, "p.go: "))
	}
	want := []string{
		`map[string]int{"add", "rope"}`,
		`[]string{"exp", "log"}`,
		`op.Name == "linear"`,
		`op.Name != "linaer"`,
		`op.Name == "rms_nrm"`,
		`"param" != v.Def.Name`,
		`switch op.Def().Name { case "rms_norm" }`,
		`switch name { case "add", "sub" }`,
		`m["softmax"]`,
		`ir.Lookup("topk")`,
		`register("exp")`,
		`defOf("concat")`,
		`strings.HasPrefix("gemm_linear")`,
		`strings.Contains("attention_attention_")`,
		`strings.HasPrefix("rows_reduce_max")`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("found\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// byName are ir's functions that build an op from its name: a misspelt
// name there fails when the op is built, so it may be a string.
var byName = []string{"Emit", "Emit1", "EmitTyped", "NewOp"}

// notOps are the directories the check skips: ir, which defines the names,
// and the GPU emulator, whose "add" and "neg" are PTX instructions.
var notOps = []string{"ir", "runtime/emu"}

type finding struct {
	pos token.Position
	key string // "file: source", the file relative to the root
}

// opNameStrings parses the non-test Go files under root of the packages
// that import ir, skipping notOps, testdata and hidden directories, and
// returns the op-name strings used to match ops.
func opNameStrings(root string) ([]finding, error) {
	files, fset, err := gosrc.Files(root, parser.SkipObjectResolution, notOps...)
	if err != nil {
		return nil, err
	}
	importsIR := map[string]bool{} // by directory (package)
	for rel, f := range files {
		for _, s := range f.Imports {
			importsIR[gosrc.Dir(rel)] = importsIR[gosrc.Dir(rel)] || s.Path.Value == `"github.com/deepc-dev/deepc/ir"`
		}
	}
	var found []finding
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		if !importsIR[gosrc.Dir(rel)] {
			continue // no ops to match
		}
		f := files[rel]
		report := func(n ast.Node, src string) {
			found = append(found, finding{fset.Position(n.Pos()), rel + ": " + src})
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if n.Op != token.EQL && n.Op != token.NEQ {
					break
				}
				if (isNameField(n.X) && isOpNameOrTypo(n.Y)) || (isNameField(n.Y) && isOpNameOrTypo(n.X)) {
					report(n, exprString(n))
				}
			case *ast.SwitchStmt:
				if n.Tag == nil {
					break
				}
				// On a .Name, any op-name case; on anything else, a switch
				// whose cases are all op names.
				var cases []ast.Expr
				for _, c := range n.Body.List {
					cases = append(cases, c.(*ast.CaseClause).List...)
				}
				onName, allOps := isNameField(n.Tag), allOpNames(cases)
				for _, c := range n.Body.List {
					cc := c.(*ast.CaseClause)
					if onName && slices.ContainsFunc(cc.List, isOpNameOrTypo) || allOps && len(cc.List) > 0 {
						report(cc, fmt.Sprintf("switch %s { case %s }", exprString(n.Tag), exprList(cc.List)))
					}
				}
			case *ast.CompositeLit:
				var keys []ast.Expr
				switch typ := n.Type.(type) {
				case *ast.MapType:
					if id, ok := typ.Key.(*ast.Ident); !ok || id.Name != "string" {
						return true
					}
					for _, e := range n.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							keys = append(keys, kv.Key)
						}
					}
				case *ast.ArrayType:
					if id, ok := typ.Elt.(*ast.Ident); !ok || id.Name != "string" {
						return true
					}
					keys = n.Elts
				default:
					return true
				}
				if allOpNames(keys) {
					report(n, fmt.Sprintf("%s{%s}", exprString(n.Type), exprList(keys)))
				}
			case *ast.IndexExpr:
				if isOpName(n.Index) {
					report(n, exprString(n))
				}
			case *ast.CallExpr:
				fn := n.Fun
				if sel, ok := fn.(*ast.SelectorExpr); ok {
					fn = sel.Sel
				}
				if id, ok := fn.(*ast.Ident); ok && slices.Contains(byName, id.Name) {
					break
				}
				for _, a := range n.Args {
					if isOpName(a) || isStringsCall(n) && isKernelNamePrefix(a) {
						report(n, fmt.Sprintf("%s(%s)", exprString(n.Fun), exprString(a)))
					}
				}
			}
			return true
		})
	}
	return found, nil
}

// isStringsCall reports a call of a function of package strings.
func isStringsCall(c *ast.CallExpr) bool {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "strings"
}

// isKernelNamePrefix reports a string that starts as codegen names a
// kernel, its region's kind and first op: "<family>_<op>", whole or
// followed by '_' ("gemm_linear", "attention_attention_"). Matching a
// kernel name against one selects kernels by op name; a step's ops are
// its region's in the IR (plan-kernels' kernel attribute).
func isKernelNamePrefix(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return false
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		return false
	}
	for _, family := range kernelFamilies() {
		rest, ok := strings.CutPrefix(s, family+"_")
		if ok && slices.ContainsFunc(ir.Ops(), func(d *ir.OpDef) bool { return rest == d.Name || strings.HasPrefix(rest, d.Name+"_") }) {
			return true
		}
	}
	return false
}

// kernelFamilies are the kinds of kernel region (passes.KernelKindOf).
func kernelFamilies() []string {
	var fs []string
	for _, d := range ir.Ops() {
		if f := passes.KernelKindOf(d); f != "" && !slices.Contains(fs, f) {
			fs = append(fs, f)
		}
	}
	return fs
}

// isNameField reports x.Name for any x: the syntax cannot tell an op's
// Name from another's, but no other name outside ir is spelt like an op.
func isNameField(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Name"
}

func isOpName(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return false
	}
	s, err := strconv.Unquote(lit.Value)
	return err == nil && ir.Lookup(s) != nil
}

// isOpNameOrTypo is isOpName, or a string one edit (an insertion, deletion,
// substitution or swap of neighbours) from an op name of four letters or
// more: a misspelt op compared with a .Name is the bug this test is for.
func isOpNameOrTypo(e ast.Expr) bool {
	if isOpName(e) {
		return true
	}
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return false
	}
	s, _ := strconv.Unquote(lit.Value)
	return slices.ContainsFunc(ir.Ops(), func(d *ir.OpDef) bool { return len(d.Name) >= 4 && oneEdit(s, d.Name) })
}

// oneEdit reports whether a and b differ by one edit.
func oneEdit(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	switch {
	case a == b || len(b)-len(a) > 1:
		return false
	case len(a) < len(b):
		return a[i:] == b[i+1:]
	case a[i+1:] == b[i+1:]:
		return true
	}
	return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
}

func allOpNames(es []ast.Expr) bool {
	return len(es) > 0 && !slices.ContainsFunc(es, func(e ast.Expr) bool { return !isOpName(e) })
}

func exprString(e ast.Expr) string { return types.ExprString(e) }

func exprList(es []ast.Expr) string {
	var s []string
	for _, e := range es {
		s = append(s, exprString(e))
	}
	return strings.Join(s, ", ")
}
