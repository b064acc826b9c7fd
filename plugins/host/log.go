package host

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// logLines collects a plugin's stderr line by line for --plugin-log, which
// shows it whether or not the pass fails. go-plugin writes from its own
// goroutines, so lines wait here until deepc's goroutine flushes them
// (after each pass, and once the process has exited): the writer they go to
// is deepc's diagnostics, which nothing else synchronises. go-plugin's own
// debug and trace lines are left out, as in the stderr shown with an error.
type logLines struct {
	mu      sync.Mutex
	part    []byte // a line not yet ended
	pending []string
}

func (l *logLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, b...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.add(string(l.part[:i]))
		l.part = l.part[i+1:]
	}
	return len(b), nil
}

func (l *logLines) add(s string) {
	s = strings.TrimRight(s, "\r")
	if strings.TrimSpace(withoutDebugLogs(s)) != "" {
		l.pending = append(l.pending, s)
	}
}

// flush writes the lines so far to w, each prefixed with the plugin's
// name; with all, also a last line without its newline.
func (l *logLines) flush(w io.Writer, plugin string, all bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if all && len(l.part) > 0 {
		l.add(string(l.part))
		l.part = nil
	}
	for _, s := range l.pending {
		fmt.Fprintf(w, "plugin %s: %s\n", plugin, s)
	}
	l.pending = nil
}
