package filecheck

import (
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
