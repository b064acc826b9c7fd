//go:build linux

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An interrupt or a termination request while a plugin is starting (it
// never handshakes; it started a child of its own) ends deepc within
// moments, with a failure status, and no process of the plugin's group is
// left (issue 14). The real binary runs: main's signal handling is what is
// tested.
func TestSignalDuringPluginStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds deepc: not in -short")
	}
	deepc := filepath.Join(t.TempDir(), "deepc")
	if out, err := exec.Command("go", "build", "-o", deepc, ".").CombinedOutput(); err != nil {
		t.Fatalf("building deepc: %v\n%s", err, out)
	}
	script, err := filepath.Abs("../../plugins/host/testdata/scripts/child-never-handshakes")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			pids := filepath.Join(t.TempDir(), "pids")
			var errOut bytes.Buffer
			cmd := exec.Command(deepc, "compile", tinyModel, "--plugin", script, "--plugin-timeout", "60s")
			cmd.Env = append(os.Environ(), "DEEPC_FIXTURE_PIDS="+pids)
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			// The script records its child's pid, then its own: the
			// plugin's process group (deepc makes it the leader).
			var group []int
			for deadline := time.Now().Add(30 * time.Second); len(group) < 2; time.Sleep(20 * time.Millisecond) {
				group = pidsIn(pids)
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("the plugin did not start within 30s\n%s", errOut.String())
				}
			}
			pgid := group[1]
			sent := time.Now()
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
				t.Fatalf("deepc still running 10s after %v\n%s", c.sig, errOut.String())
			}
			took := time.Since(sent)
			t.Logf("%v: deepc exited with status %d after %v", c.sig, cmd.ProcessState.ExitCode(), took.Round(time.Millisecond))
			if took > 2*time.Second {
				t.Errorf("deepc took %v to exit after %v", took, c.sig)
			}
			if code := cmd.ProcessState.ExitCode(); code != c.code {
				t.Errorf("exit status %d after %v, want %d\n%s", code, c.sig, c.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), "deepc: interrupted") {
				t.Errorf("stderr lacks \"deepc: interrupted\":\n%s", errOut.String())
			}
			// SIGKILL reaches the group at once, but dying takes a moment.
			var left []int
			for deadline := time.Now().Add(time.Second); ; time.Sleep(20 * time.Millisecond) {
				if left = groupMembers(pgid); len(left) == 0 || time.Now().After(deadline) {
					break
				}
			}
			for _, pid := range left {
				t.Errorf("process %d of the plugin's group %d is still running", pid, pgid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	}
}

// pidsIn reads the pids a fixture script wrote, one per line.
func pidsIn(path string) []int {
	b, _ := os.ReadFile(path)
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// groupMembers lists the live processes of process group pgid. Zombies
// do not count: they are dead, and an orphan's wait for a reaper is not
// deepc's doing.
func groupMembers(pgid int) []int {
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" || f[2] != strconv.Itoa(pgid) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		out = append(out, pid)
	}
	return out
}
