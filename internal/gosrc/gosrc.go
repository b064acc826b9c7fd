// Package gosrc reads the project's own Go sources, for the tests that
// check rules over the code itself: the import layers (internal/layering)
// and op names by handle (internal/opfaces). Reading files rather than
// asking go list keeps those tests free of anything but the sources.
package gosrc

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// Files parses, with mode, every non-test Go file under root, skipping
// testdata, hidden (.x) and underscore (_x) directories and the
// directories in skip (slash paths relative to root). It returns the files
// by slash path relative to root.
func Files(root string, mode parser.Mode, skip ...string) (map[string]*ast.File, *token.FileSet, error) {
	files := map[string]*ast.File{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		name := d.Name()
		if d.IsDir() {
			if rel != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || slices.Contains(skip, rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, mode)
		if err != nil {
			return err
		}
		files[rel] = f
		return nil
	})
	return files, fset, err
}

// Dir is the package directory of a file path Files returned.
func Dir(rel string) string { return filepath.ToSlash(filepath.Dir(rel)) }
