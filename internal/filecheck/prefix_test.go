package filecheck

import (
	"reflect"
	"strings"
	"testing"
)

// prefixed holds directives of three prefixes; each run sees only its own.
const prefixed = `// CHECK: sqrt
// FOO: neg
// FOO-NEXT: exp
// BAR: abs
// FOO-BAR: func @b
// FOO-BAR-NEXT: abs
`

func TestPrefixesPass(t *testing.T) {
	for _, prefixes := range [][]string{{"FOO"}, {"BAR"}, {"FOO", "BAR"}, {"FOO-BAR"}, {"FOO", "FOO-BAR"}} {
		t.Run(strings.Join(prefixes, ","), func(t *testing.T) {
			if err := (Config{Prefixes: prefixes}).Check(sample, prefixed); err != nil {
				t.Fatalf("unexpected failure:\n%v", err)
			}
		})
	}
}

func TestPrefixesFail(t *testing.T) {
	// The CHECK line, which the runs above skip, applies by default.
	wantFailure(t, Check(sample, prefixed), 1, `CHECK: "sqrt": not found`)
	// Two prefixes' directives interleave in file order: FOO's neg (in @a)
	// is looked for after BAR's abs (in @b).
	twoPrefixes := Config{Prefixes: []string{"FOO", "BAR"}}
	if err := twoPrefixes.Check(sample, "// FOO: neg\n// BAR: abs"); err != nil {
		t.Fatalf("in order: %v", err)
	}
	wantFailure(t, twoPrefixes.Check(sample, "// BAR: abs\n// FOO: neg"), 2, `FOO: "neg": not found`)
	wantFailure(t, Config{File: "p.ir", Prefixes: []string{"FOO"}}.Check(sample, "// FOO: neg\n// FOO-NEXT: abs"), 2, `p.ir:2: FOO-NEXT: "abs"`)
}

func TestBadPrefixes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		prefixes []string
		check    string
		want     string
	}{
		{"unused", []string{"FOO", "BAZ"}, prefixed, "no BAZ directives found"},
		{"none", []string{"BAZ"}, prefixed, "no BAZ directives found"},
		{"bad name", []string{"1X"}, "// 1X: neg", `check prefix "1X": want a letter`},
		{"twice", []string{"FOO", "FOO"}, prefixed, `check prefix "FOO" given twice`},
		{"unsupported suffix", []string{"FOO"}, "// FOO: neg\n// FOO-DAG: exp", "unsupported directive FOO-DAG"},
		{"next first", []string{"FOO"}, "// FOO-NEXT: neg", "FOO-NEXT has no earlier FOO to follow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Config{Prefixes: tc.prefixes}.Check(sample, tc.check)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseOptRunPrefixes(t *testing.T) {
	for _, tc := range []struct {
		run  string
		want []string
	}{
		{"deepc opt %s --passes cse", nil},
		{"deepc opt %s --passes cse --check-prefix=CSE", []string{"CSE"}},
		{"deepc opt %s --check-prefix CSE --passes cse", []string{"CSE"}},
		{"deepc opt %s --passes cse --check-prefixes=A,B --check-prefix C", []string{"C", "A", "B"}},
		{`deepc opt %s --passes cse --check-prefixes "A,B"`, []string{"A", "B"}},
	} {
		r, err := ParseOptRun(tc.run)
		if err != nil {
			t.Errorf("%s: %v", tc.run, err)
			continue
		}
		if !reflect.DeepEqual(r.Prefixes, tc.want) || r.Passes != "cse" {
			t.Errorf("%s: passes %q, prefixes %q; want cse, %q", tc.run, r.Passes, r.Prefixes, tc.want)
		}
	}
	for _, run := range []string{"deepc opt %s --passes cse --check-prefixes=A,,B", "deepc opt %s --passes cse --check-prefix=-X", "deepc opt %s --passes cse --check-prefixes=A,A"} {
		if _, err := ParseOptRun(run); err == nil || !strings.Contains(err.Error(), "check prefix") {
			t.Errorf("%s: got %v, want an error about the check prefix", run, err)
		}
	}
}
