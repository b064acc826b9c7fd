// Package filecheck is a small FileCheck in the manner of LLVM's: a check
// file carries directives in comment lines, and Check matches them in order
// against an input text.
//
// Supported directives (all plain substring matches; runs of spaces and tabs
// in both the pattern and the input compare equal to one space):
//
//	// CHECK: text        the next match after the previous one
//	// CHECK-NEXT: text   a match on the line right after the previous match
//	// CHECK-SAME: text   a match on the same line, after the previous match
//	// CHECK-NOT: text    text must not occur between the previous positive
//	                      match and the next one (or the end of the block)
//	// CHECK-LABEL: text  splits the input into blocks, each checked on its own
//
// RunLines returns the `// RUN:` command lines of a test file.
package filecheck
