package passes

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

func runWith(t *testing.T, pipe string, instrs ...Instrument) (string, error) {
	t.Helper()
	var out bytes.Buffer
	ctx := &Context{Out: &out, Instruments: instrs}
	err := Run(ctx, parse(t, smallModule), pipeline(t, testRegistry(t), pipe))
	return out.String(), err
}

// banners lists the dump banners in output, without their frame.
func banners(out string) []string {
	var bs []string
	for _, m := range regexp.MustCompile(`// -----// IR Dump (.*) //----- //`).FindAllStringSubmatch(out, -1) {
		bs = append(bs, m[1])
	}
	return bs
}

func TestPrintInstruments(t *testing.T) {
	for _, tc := range []struct {
		name  string
		instr Instrument
		want  []string
	}{
		{"before all", PrintBefore(), []string{"Before noop (1/3)", "Before rename (2/3)", "Before liar (3/3)"}},
		{"before one", PrintBefore("rename"), []string{"Before rename (2/3)"}},
		{"after all", PrintAfter("all"), []string{"After noop (1/3)", "After rename (2/3)", "After liar (3/3)"}},
		{"after two", PrintAfter("noop", "liar"), []string{"After noop (1/3)", "After liar (3/3)"}},
		// noop changes nothing; liar changes the IR but says it did not.
		{"after change", PrintAfterChange(), []string{"After rename (2/3)", "After liar (3/3) (the pass reported no change)"}},
		{"after change, filtered", PrintAfterChange("noop", "rename"), []string{"After rename (2/3)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runWith(t, "noop,rename,liar", tc.instr)
			if err != nil {
				t.Fatal(err)
			}
			if got := banners(out); !slices.Equal(got, tc.want) {
				t.Errorf("dumps %q, want %q\n%s", got, tc.want, out)
			}
		})
	}
	out, _ := runWith(t, "rename", PrintAfter())
	if !strings.Contains(out, "//----- //\nmodule @m_x {\n") {
		t.Errorf("PrintAfter does not print the module after the pass:\n%s", out)
	}
}

func TestDumpDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stages")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "007_old.ir")
	keep := filepath.Join(dir, "notes.txt")
	for _, f := range []string{stale, keep} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runWith(t, "noop,rename", DumpDir(dir)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"000_input.ir", "001_noop.ir", "002_rename.ir", "notes.txt"}; !slices.Equal(names, want) {
		t.Fatalf("dump dir holds %q, want %q", names, want)
	}
	for name, module := range map[string]string{"000_input.ir": "m", "001_noop.ir": "m", "002_rename.ir": "m_x"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		m, err := ir.Parse(name, string(data))
		if err != nil {
			t.Errorf("%s does not parse: %v", name, err)
			continue
		}
		if m.Name != module {
			t.Errorf("%s holds module @%s, want @%s", name, m.Name, module)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "002_rename.ir"))
	if !strings.HasPrefix(string(data), `// after pass rename (2/2); pipeline "noop,rename"`) {
		t.Errorf("002_rename.ir header:\n%s", data)
	}
}

func TestCrashReproducer(t *testing.T) {
	for _, tc := range []struct {
		pipe, file, errText string
	}{
		{"rename,panic", "crash_002_panic.ir", "pass panic (2/2) panicked: boom"},
		{"rename,fail", "crash_002_fail.ir", "pass fail (2/2): no luck"},
		{"rename,break-ir", "crash_002_break-ir.ir", "pass break-ir (2/2) produced invalid IR"},
	} {
		t.Run(tc.pipe, func(t *testing.T) {
			dir := t.TempDir()
			_, err := runWith(t, tc.pipe, CrashReproducer(dir))
			path := filepath.Join(dir, tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.errText) || !strings.Contains(err.Error(), "crash reproducer written to "+path) {
				t.Fatalf("got %v", err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			pass := strings.Split(tc.pipe, ",")[1]
			for _, want := range []string{
				"// pipeline: " + tc.pipe + "\n",
				"// RUN: deepc opt %s --passes " + pass + "\n",
				"// error: " + tc.errText,
			} {
				if !strings.Contains(text, want) {
					t.Errorf("reproducer lacks %q:\n%s", want, text)
				}
			}
			// The module is the one before the failing pass: renamed, intact.
			m, err := ir.Parse(path, text)
			if err != nil {
				t.Fatalf("reproducer does not parse: %v\n%s", err, text)
			}
			if m.Name != "m_x" || ir.Verify(m) != nil {
				t.Errorf("reproducer holds @%s (verify: %v), want the valid module before the failing pass", m.Name, ir.Verify(m))
			}
		})
	}
	// A file path is used as is; a run that does not fail writes nothing.
	file := filepath.Join(t.TempDir(), "repro.ir")
	if _, err := runWith(t, "noop", CrashReproducer(file)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("reproducer written for a run that did not fail (%v)", err)
	}
	if _, err := runWith(t, "fail", CrashReproducer(file)); err == nil {
		t.Fatal("fail did not fail")
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("no reproducer at the file path: %v", err)
	}
}

func TestTiming(t *testing.T) {
	tm := NewTiming()
	out, err := runWith(t, "noop,rename,noop", tm)
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Rows) != 3 || tm.Rows[1].Pass != "rename" || tm.Rows[1].Step != 2 {
		t.Errorf("rows = %+v", tm.Rows)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("want a header, three rows and a total:\n%s", out)
	}
	for i, re := range []string{
		`^\s*step\s+pass\s+wall time\s+share$`,
		`^\s*1\s+noop\s+\S+\s+(\d+\.\d%|-)$`,
		`^\s*2\s+rename\s+\S+\s+(\d+\.\d%|-)$`,
		`^\s*3\s+noop\s+\S+\s+(\d+\.\d%|-)$`,
		`^\s*total\s+\S+\s+(100\.0%|-)$`,
	} {
		if !regexp.MustCompile(re).MatchString(strings.TrimRight(lines[i], " ")) {
			t.Errorf("line %d %q does not match %s", i+1, lines[i], re)
		}
	}
	// A failing run still prints what it timed.
	tm = NewTiming()
	out, _ = runWith(t, "noop,fail", tm)
	if len(tm.Rows) != 2 || !strings.Contains(out, "total") {
		t.Errorf("failing run: rows %+v\n%s", tm.Rows, out)
	}
}

// A plugin pass exists only with its plugin: the RUN line names the
// plugins and the failing pass's options, so it replays as it failed.
func TestCrashReproducerReplaysPlugins(t *testing.T) {
	dir := t.TempDir()
	ctx := &Context{Out: io.Discard, Instruments: []Instrument{CrashReproducer(dir)}, Plugins: []string{"/opt/p/boom", "/opt/my plugins/it's"},
		PassOptions: PassOptions{"fail": {"k": "v", "s": "a b\nc"}}}
	if err := Run(ctx, parse(t, smallModule), pipeline(t, testRegistry(t), "fail")); err == nil {
		t.Fatal("fail did not fail")
	}
	data, err := os.ReadFile(filepath.Join(dir, "crash_001_fail.ir"))
	if err != nil {
		t.Fatal(err)
	}
	run := "// RUN: deepc opt %s --passes fail --plugin /opt/p/boom --plugin '/opt/my plugins/it'\\''s' --pass-option fail.k=v --pass-option $'fail.s=a b\\nc'\n"
	if !strings.Contains(string(data), run) {
		t.Fatalf("reproducer lacks %q:\n%s", run, data)
	}
	// The words read back, through bash, as the values they quote; the
	// reproducer still parses (the newline did not leave the comment).
	line := strings.TrimSuffix(strings.TrimPrefix(run, "// RUN: deepc opt %s "), "\n")
	out, err := exec.Command("bash", "-c", `eval "set -- $1"; for a in "$@"; do printf '%s|' "$a"; done`, "x", line).Output()
	if want := "--passes|fail|--plugin|/opt/p/boom|--plugin|/opt/my plugins/it's|--pass-option|fail.k=v|--pass-option|fail.s=a b\nc|"; err != nil || string(out) != want {
		t.Errorf("bash reads the RUN line as %q (%v), want %q", out, err, want)
	}
	if _, err := ir.Parse("crash.ir", string(data)); err != nil {
		t.Errorf("the reproducer does not parse: %v", err)
	}
}
