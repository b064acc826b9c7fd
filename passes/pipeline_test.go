package passes

import (
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

func TestParsePipelineRoundTrip(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"canonicalize", "canonicalize"},
		{" canonicalize , cse,dce ", "canonicalize,cse,dce"},
		{"canonicalize,cse,canonicalize,dce", "canonicalize,cse,canonicalize,dce"},
		{"dce,cse,dce", "dce,cse,dce"},
		{"stats", "stats"},
	} {
		p, err := ParsePipeline(tc.in)
		if err != nil {
			t.Errorf("ParsePipeline(%q): %v", tc.in, err)
			continue
		}
		if got := p.String(); got != tc.want {
			t.Errorf("ParsePipeline(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		q, err := ParsePipeline(p.String())
		if err != nil || q.String() != p.String() {
			t.Errorf("%q does not read back: %q, %v", p, q, err)
		}
	}
}

func TestParsePipelineErrors(t *testing.T) {
	known := "known passes: canonicalize, cse, dce,"
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"canonicalise", []string{`unknown pass "canonicalise"`, `did you mean "canonicalize"?`, known}},
		{"cse,dec", []string{`unknown pass "dec"`, `did you mean "dce"?`}},
		{"frobnicate", []string{`unknown pass "frobnicate"`, known}},
		{"cse,,dce", []string{"empty pass name at position 2"}},
		{"cse,", []string{"empty pass name at position 2"}},
		{"cse,canonicalize", []string{"pass canonicalize must run before cse"}},
		{"dce,cse", []string{"pass cse must run before dce"}},
	} {
		_, err := ParsePipeline(tc.in)
		if err == nil {
			t.Errorf("ParsePipeline(%q) succeeded", tc.in)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParsePipeline(%q) error %q does not contain %q", tc.in, err, w)
			}
		}
		if strings.Contains(err.Error(), "did you mean") && tc.in == "frobnicate" {
			t.Errorf("suggested a pass for a name nothing like one: %v", err)
		}
	}
}

// Every name in the ordering table is a registered pass: a renamed pass
// must not silently drop its constraints.
func TestPassOrderNamesRegistered(t *testing.T) {
	for _, o := range passOrder {
		for _, name := range []string{o.Before, o.After} {
			if _, ok := Lookup(name); !ok {
				t.Errorf("passOrder entry %+v names unregistered pass %q", o, name)
			}
		}
	}
}

func TestEveryPassDescribed(t *testing.T) {
	for _, p := range All() {
		d := p.Description()
		if d == "" || strings.Contains(d, "\n") {
			t.Errorf("pass %s: description %q is not one line", p.Name(), d)
		}
	}
}

func TestRequires(t *testing.T) {
	r := NewRegistry()
	a := NewPass("a", "a", func(*Context, *ir.Module) (bool, error) { return false, nil })
	b := NewPass("b", "b needs a", func(*Context, *ir.Module) (bool, error) { return false, nil }, "a")
	for _, p := range []Pass{a, b} {
		if err := r.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	for in, ok := range map[string]bool{"a,b": true, "a,a,b": true, "b": false, "b,a": false, "a": true} {
		_, err := r.ParsePipeline(in)
		if (err == nil) != ok {
			t.Errorf("ParsePipeline(%q) error = %v, want ok = %v", in, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "pass b requires a to run before it") {
			t.Errorf("ParsePipeline(%q) error = %v", in, err)
		}
	}
}

func TestOrderWithRepeats(t *testing.T) {
	r := testRegistry(t) // noop before rename
	for in, ok := range map[string]bool{
		"noop,rename":        true,
		"rename":             true,
		"rename,noop":        false,
		"rename,noop,rename": true, // a rename runs after a noop
		"noop,rename,noop":   true,
	} {
		_, err := r.ParsePipeline(in)
		if (err == nil) != ok {
			t.Errorf("ParsePipeline(%q) error = %v, want ok = %v", in, err, ok)
		}
	}
}

func TestRegistry(t *testing.T) {
	r := testRegistry(t)
	if err := r.Add(noopPass); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Errorf("duplicate Add: %v", err)
	}
	for _, bad := range []string{"", "Cse", "cse dce", "a,b", "-x", "x-", "all", "a--b"} {
		p := NewPass(bad, "", nil)
		if err := r.Add(p); err == nil {
			t.Errorf("Add accepted pass name %q", bad)
		}
	}
	names := r.Names()
	if !slices.IsSorted(names) || len(names) != 6 {
		t.Errorf("Names() = %v", names)
	}
	if p, ok := r.Lookup("rename"); !ok || p != renamePass {
		t.Errorf("Lookup(rename) = %v, %v", p, ok)
	}
	if got := All(); len(got) < 4 || !slices.IsSortedFunc(got, func(a, b Pass) int { return strings.Compare(a.Name(), b.Name()) }) {
		t.Errorf("All() not sorted: %v", got)
	}
}
