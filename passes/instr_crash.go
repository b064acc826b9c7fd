package passes

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/deepc-dev/deepc/ir"
)

// CrashReproducer writes, when a pass fails (an error, a panic, or invalid
// IR), the IR as it was before that pass together with the pipeline, so the
// failure can be replayed with `deepc opt`. path is a file, or an existing
// directory in which crash_NNN_<pass>.ir is created. The run's error names
// the file.
func CrashReproducer(path string) Instrument { return &crashReproducer{path: path} }

type crashReproducer struct {
	path   string
	before string // the IR before the running pass
}

func (c *crashReproducer) BeforePass(ctx *Context, _ Pass, m *ir.Module) error {
	c.before = ctx.Printed(m)
	return nil
}

func (c *crashReproducer) AfterPass(*Context, Pass, *ir.Module, Result) error { return nil }

func (c *crashReproducer) PassFailed(ctx *Context, p Pass, failure error) error {
	path := c.path
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, fmt.Sprintf("crash_%03d_%s.ir", ctx.step, p.Name()))
	}
	if err := os.WriteFile(path, []byte(c.reproducer(ctx, p, failure)), 0o644); err != nil {
		return errors.Join(failure, fmt.Errorf("writing crash reproducer: %w", err))
	}
	return fmt.Errorf("%w\ncrash reproducer written to %s", failure, path)
}

// reproducer is a test file: comments saying what failed, a RUN line that
// replays the failing pass, and the module it failed on.
func (c *crashReproducer) reproducer(ctx *Context, p Pass, failure error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "// deepc crash reproducer: %s failed\n", stepName(ctx, p))
	fmt.Fprintf(&b, "// pipeline: %s\n", ctx.pipeline)
	fmt.Fprintf(&b, "// RUN: deepc opt %%s --passes %s%s\n", p.Name(), replayFlags(ctx, p))
	comment(&b, "error: ", failure.Error())
	var pe *PanicError
	if errors.As(failure, &pe) {
		comment(&b, "", string(pe.Stack))
	}
	b.WriteString(c.before)
	return b.String()
}

// replayFlags are the flags the RUN line needs besides the pass: the
// plugins (a plugin pass exists only with its plugin) and the options the
// failing pass was given.
func replayFlags(ctx *Context, p Pass) string {
	var b strings.Builder
	for _, path := range ctx.Plugins {
		fmt.Fprintf(&b, " --plugin %s", shellWord(path))
	}
	given := ctx.PassOptions[p.Name()]
	for _, k := range slices.Sorted(maps.Keys(given)) {
		fmt.Fprintf(&b, " --pass-option %s", shellWord(p.Name()+"."+k+"="+given[k]))
	}
	return b.String()
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_./:=,+@%-]+$`)

// shellWord quotes s as one shell word that stays on the RUN line: as it
// is when plain, in single quotes when it has spaces or quotes, and in
// bash's $'...' with escapes when it has control characters (a newline
// would end the comment).
func shellWord(s string) string {
	switch {
	case plainWord.MatchString(s):
		return s
	case strings.ContainsFunc(s, unicode.IsControl):
		q := strconv.Quote(s)
		return "$'" + strings.ReplaceAll(q[1:len(q)-1], "'", `\'`) + "'"
	default:
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
}

// comment writes text as // lines, the first prefixed.
func comment(b *strings.Builder, prefix, text string) {
	for i, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if i == 0 {
			line = prefix + line
		}
		b.WriteString(strings.TrimRight("// "+line, " ") + "\n")
	}
}
