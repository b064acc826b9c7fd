package filecheck

import (
	"fmt"
	"regexp"
	"strings"
)

var runRE = regexp.MustCompile(`//\s*RUN:(.*)$`)

// RunLines returns the commands of a test file's `// RUN:` lines, in order
// and trimmed. A RUN line ending in a backslash continues on the next RUN
// line, as in lit.
func RunLines(src string) []string {
	var cmds []string
	var cur strings.Builder
	open := false
	for _, line := range strings.Split(src, "\n") {
		m := runRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		part := strings.TrimSpace(m[1])
		more := strings.HasSuffix(part, `\`)
		part = strings.TrimSpace(strings.TrimSuffix(part, `\`))
		if open && part != "" {
			cur.WriteByte(' ')
		}
		cur.WriteString(part)
		open = more
		if !more {
			cmds = append(cmds, cur.String())
			cur.Reset()
		}
	}
	if open {
		cmds = append(cmds, cur.String())
	}
	return cmds
}

// OptRun is a `deepc opt %s --passes P [--pass-option k=v]...
// [--check-prefix=FOO]...` RUN line.
type OptRun struct {
	Passes  string
	Options []string // key=value
	// Prefixes select the directives this run checks; none means CHECK.
	Prefixes []string
}

// ParseOptRun reads a RUN line of the form `deepc opt %s --passes P` with
// any number of `--pass-option k=v`, `--check-prefix NAME` and
// `--check-prefixes A,B` (each flag also as --flag=value; quotes around
// values are dropped). The prefixes are FileCheck's, accepted on the one
// command since the check runs in process.
func ParseOptRun(run string) (OptRun, error) {
	f := strings.Fields(run)
	if len(f) < 2 || f[0] != "deepc" || f[1] != "opt" {
		return OptRun{}, fmt.Errorf("RUN %q: want a `deepc opt` command", run)
	}
	ps := flagValues(f, "--passes")
	if len(ps) == 0 {
		return OptRun{}, fmt.Errorf("RUN %q: no --passes argument", run)
	}
	prefixes := flagValues(f, "--check-prefix")
	for _, v := range flagValues(f, "--check-prefixes") {
		prefixes = append(prefixes, strings.Split(v, ",")...)
	}
	if err := checkPrefixes(prefixes); err != nil {
		return OptRun{}, fmt.Errorf("RUN %q: %v", run, err)
	}
	return OptRun{Passes: ps[len(ps)-1], Options: flagValues(f, "--pass-option"), Prefixes: prefixes}, nil
}

// flagValues returns the values of every `name X` or `name=X` in f.
func flagValues(f []string, name string) []string {
	var out []string
	for i, a := range f {
		v, ok := strings.CutPrefix(a, name+"=")
		if !ok && a == name && i+1 < len(f) {
			v, ok = f[i+1], true
		}
		if ok {
			out = append(out, strings.Trim(v, `"'`))
		}
	}
	return out
}

// Config is how to check this run's output against file.
func (r OptRun) Config(file string) Config { return Config{File: file, Prefixes: r.Prefixes} }
