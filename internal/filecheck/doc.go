// Package filecheck is a small FileCheck in the manner of LLVM's: a check
// file carries directives in `//` comment lines, and Check matches them in
// order against an input text.
//
// # Directives
//
//	// CHECK: pat        the next match after the previous one
//	// CHECK-NEXT: pat   a match on the line right after the previous match
//	// CHECK-SAME: pat   a match on the same line, after the previous match
//	// CHECK-NOT: pat    pat must not occur between the previous positive
//	                     match and the next one (or the end of the block)
//	// CHECK-LABEL: pat  splits the input into blocks, each checked on its
//	                     own: labels are found first, in order, so a failure
//	                     in one block cannot make the next one fail too
//
// CHECK-NEXT and CHECK-SAME need a positive directive (any but CHECK-NOT)
// before them. A match never spans lines. LLVM's CHECK-DAG, CHECK-EMPTY and
// CHECK-COUNT-n are reported as unsupported rather than ignored.
//
// # Patterns
//
// A pattern is literal text, except for:
//
//	{{re}}       a Go regexp (package regexp syntax, not POSIX); it ends at
//	             the first "}}", so one ending in a brace goes in
//	             parentheses: {{(x{2})}}
//	[[X:re]]     a Go regexp whose match is kept as variable X
//	[[X]]        the text X last matched, compared literally
//
// A literal "{{" or "[[" is written as a regexp: {{\{\{}}, {{\[\[}}. Runs
// of spaces and tabs in the pattern and in the input compare equal to one
// space. A regexp's ^ and $ hold where the search on a line starts and
// ends: after a CHECK-SAME's previous match, ^ is right there.
//
// A variable name is a letter or '_' then letters, digits or '_', with an
// optional leading '$' (kept as part of the name). Variables are set by
// each match of a directive that defines them and keep their value to the
// end of the check file, across CHECK-LABEL blocks (as LLVM's without
// --enable-var-scope); a later definition replaces the value. A use needs a
// definition in an earlier directive of the file, or the check file is
// rejected naming the variable and its line; when that definition has not
// matched (its block failed first), the use fails saying so. A CHECK-NOT
// defines nothing (it never matches); a CHECK-LABEL neither defines nor
// uses variables (labels are found before anything matches); a pattern
// cannot use a variable it defines itself (Go regexps have no
// back-references). LLVM's numeric [[#N]] and [[@LINE]] are rejected.
//
// # Prefixes
//
// Config.Prefixes replaces CHECK: with the prefix FOO the directives are
// FOO:, FOO-NEXT: and so on, and CHECK lines are ignored. With several
// prefixes their directives are read together in file order. A prefix is a
// letter then letters, digits, '-' or '_'; one with no directive in the
// file is an error (it is most likely misspelt).
//
// # Errors
//
// A failure is an *Error: the check file and line of the directive
// ("fold.ir:12", or "check line 12" without Config.File), the directive
// and its pattern, what went wrong, the values of the variables the
// pattern used, where in the input the search began, and the input lines
// around the failure, with a possible intended match when no line holds
// the pattern.
//
// # RUN lines
//
// RunLines returns the `// RUN:` command lines of a test file (a trailing
// backslash continues one on the next RUN line). ParseOptRun reads a
// `deepc opt %s --passes P [--pass-option k=v]... [--check-prefix NAME]...
// [--check-prefixes A,B]` line; OptRun.Config gives its check's Config.
package filecheck
