package host

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
)

// A plugin that is a script starting children, and misbehaves, ends
// within its deadline plus the bounded pipe wait, with an error naming
// it, and leaves no process behind: the plugin runs in a process group
// of its own, killed whole (issue 14, "the host can hang").
func TestScriptPluginsCannotHang(t *testing.T) {
	const deadline = 2 * time.Second
	for _, c := range []struct{ name, want string }{
		{"child-never-handshakes", "no handshake within 2s"},
		{"garbage-then-sleep", "this is not a handshake"},
		{"fork-and-exit", "no handshake within 2s"}, // its child holds stdout open
	} {
		t.Run(c.name, func(t *testing.T) {
			pids := filepath.Join(t.TempDir(), "pids")
			t.Setenv("DEEPC_FIXTURE_PIDS", pids)
			script, err := filepath.Abs(filepath.Join("testdata", "scripts", c.name))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			p, err := Start(script, Config{Timeout: deadline})
			took := time.Since(start)
			if err == nil {
				p.Close()
				t.Fatal("the script started as a plugin")
			}
			if !strings.Contains(err.Error(), script) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v; want it to name %s and say %q", err, script, c.want)
			}
			if took > deadline+pipeWait+time.Second {
				t.Errorf("took %v; the deadline is %v and the pipe wait %v", took, deadline, pipeWait)
			}
			t.Logf("%s: %v", c.name, took.Round(10*time.Millisecond))
			for _, pid := range readPids(t, pids) {
				if alive(pid) {
					t.Errorf("process %d (started by the script) is still running", pid)
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		})
	}
}

func readPids(t *testing.T, path string) []int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the fixture recorded no pids: %v", err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("bad pid %q", f)
		}
		out = append(out, n)
	}
	return out
}

// alive reports whether pid runs (a zombie, killed and awaiting its
// parent's wait, does not count).
func alive(pid int) bool {
	for range 50 { // a killed process takes a moment to become a zombie
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			return false
		}
		f := strings.Fields(string(b))
		if len(f) > 2 && (f[2] == "Z" || f[2] == "X") {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// The worst case: a wrapper script that runs the plugin as its
// child (no exec), and a pass that never returns. The call times out, the
// whole group dies (wrapper and plugin), and Close returns at once
// instead of waiting on pipes the child still holds.
func TestWrapperWithChildTimesOut(t *testing.T) {
	const deadline = 2 * time.Second
	wrapper := filepath.Join(t.TempDir(), "wrapper")
	script := "#!/bin/sh\n\"" + path("hang") + "\"\necho after >&2\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := Start(wrapper, Config{Timeout: deadline})
	if err != nil {
		t.Fatal(err)
	}
	pgid := p.cmd.Process.Pid
	m, err := ir.Parse("tiny.ir", tiny)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Passes()[0].Run(&passes.Context{}, m)
	p.Close()
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "hang") {
		t.Errorf("error %v; want a timeout naming the plugin", err)
	}
	if took > deadline+pipeWait+time.Second {
		t.Errorf("took %v; the deadline is %v and the pipe wait %v", took, deadline, pipeWait)
	}
	t.Logf("wrapper with a hanging child: %v", took.Round(10*time.Millisecond))
	// The group is gone: kill(-pgid, 0) finds no process (zombies reaped
	// by init aside, which ESRCH also covers once they are).
	deadlineGone := time.Now().Add(2 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadlineGone) {
			t.Fatalf("process group %d still has processes", pgid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
