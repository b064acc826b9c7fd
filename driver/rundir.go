package driver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// claimRunDir makes out the run's directory, or refuses it: a directory
// that holds another run (its run.json) unless this run resumes from one
// of that run's checkpoints, or one that holds anything else (a user's
// files, which the run's checkpoints and metrics would overwrite or
// interleave with). It locks the directory for the run, so that two runs
// cannot write into it at once; the returned function unlocks it.
func claimRunDir(out, resumed string) (func(), error) {
	ents, err := os.ReadDir(out)
	links := slices.ContainsFunc(ents, func(e fs.DirEntry) bool { return e.Type()&fs.ModeSymlink != 0 })
	ents = slices.DeleteFunc(ents, func(e fs.DirEntry) bool { return e.Name() == lockName })
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("--out %s: %w", out, err)
	case links:
		return nil, fmt.Errorf("--out %s holds links; a run writes its metrics and checkpoints only into plain files and directories (deepc does not write through links)", out)
	case len(ents) > 0:
		if _, err := os.Stat(filepath.Join(out, "run.json")); err != nil {
			return nil, fmt.Errorf("--out %s: the directory holds files and no deepc run (run.json); choose an empty or new directory", out)
		}
		if resumed == "" || !sameDir(filepath.Dir(filepath.Clean(resumed)), out) {
			if _, err := os.Stat(filepath.Join(out, "latest")); err != nil {
				return nil, fmt.Errorf("--out %s holds another run, which saved no checkpoint (it stopped before its first); remove the directory or choose another --out", out)
			}
			return nil, fmt.Errorf("--out %s holds another run: continue it with --resume %s/step-NNNNNN, or choose another --out", out, out)
		}
	}
	unlock, err := lockDir(out)
	if err != nil {
		return nil, err
	}
	if err := removeStale(out); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// removeStale removes what a killed run left in out, which this run now
// holds the lock of: temporary checkpoints and latest files (".tmp-*",
// never read). Nothing else is touched.
func removeStale(out string) error {
	ents, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			if err := os.RemoveAll(filepath.Join(out, e.Name())); err != nil {
				return fmt.Errorf("--out %s: removing what a killed run left: %w", out, err)
			}
		}
	}
	return nil
}

// lockName is the file in a run directory whose lock a run holds.
const lockName = ".lock"

// sameDir reports whether a and b name the same directory.
func sameDir(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}
