package dsl

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestErrorGolden compiles every malformed model under testdata/errors and
// compares the full error text (position, message, source line, caret)
// with its .golden file.
func TestErrorGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.deep")
	if err != nil || len(files) < 20 {
		t.Fatalf("want at least 20 malformed inputs, found %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".deep"), func(t *testing.T) {
			_, err := CompileFile(f, Options{})
			if err == nil {
				t.Fatalf("%s compiled without error", f)
			}
			got := err.Error() + "\n"
			if strings.Contains(got, "internal compiler error") {
				t.Fatalf("crash instead of a diagnostic:\n%s", got)
			}
			if !strings.HasPrefix(got, f+":") && !strings.HasPrefix(got, "testdata/errors/lib/") {
				t.Errorf("error does not start with the file position:\n%s", got)
			}
			golden := strings.TrimSuffix(f, ".deep") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./dsl -run TestErrorGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("error text differs\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}
