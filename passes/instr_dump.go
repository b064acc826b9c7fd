package passes

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/deepc-dev/deepc/ir"
)

// DumpDir writes every stage of the run into dir: 000_input.ir, then
// NNN_<pass>.ir after the pass at step NNN (also when it failed, since that
// is the stage one wants to look at). Each file parses back as a module.
func DumpDir(dir string) Instrument { return &dumpDir{dir: dir} }

type dumpDir struct {
	nopInstrument
	dir string
}

// stageFile matches the names DumpDir writes.
var stageFile = regexp.MustCompile(`^\d{3,}_[a-z0-9-]+\.ir$`)

func (d *dumpDir) BeforePipeline(ctx *Context, m *ir.Module) error {
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	// A stage left by a longer earlier run would read as part of this one.
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() && stageFile.MatchString(e.Name()) {
			if err := os.Remove(filepath.Join(d.dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return d.write(ctx, "input", "input", m)
}

func (d *dumpDir) AfterPass(ctx *Context, p Pass, m *ir.Module, r Result) error {
	return d.write(ctx, p.Name(), stepName(ctx, p)+failedNote(r), m)
}

func (d *dumpDir) AfterPipeline(*Context, *ir.Module, error) error { return nil }

func (d *dumpDir) write(ctx *Context, name, what string, m *ir.Module) error {
	path := filepath.Join(d.dir, fmt.Sprintf("%03d_%s.ir", ctx.step, name))
	text := fmt.Sprintf("// after %s; pipeline %q\n%s", what, ctx.pipeline.String(), ctx.Printed(m))
	return os.WriteFile(path, []byte(text), 0o644)
}
