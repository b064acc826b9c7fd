// Package passes is deepc's pass manager and its transformations.
//
// A Pass rewrites or analyses an ir.Module in place. Passes register by name
// (Register, usually from an init function); a Pipeline is a comma-separated
// list of names, "canonicalize,cse,dce", that String prints back the same.
// Ordering constraints between passes are data (passOrder, like the Go
// compiler's), checked whenever a pipeline is built, as are the passes each
// pass Requires.
//
// Run executes a pipeline under instruments, plug-ins called around every
// pass: VerifyEach (always first unless Context.NoVerify), PrintBefore,
// PrintAfter, PrintAfterChange, DumpDir, Timing, CrashReproducer, and for
// tests RoundTrip and CheckChanged. A pass never looks at such flags itself.
// A panic in a pass becomes a *PanicError naming it.
//
// Built-in passes, one file each:
//
//	canonicalize  a table of small rewrite rules applied to a fixed point
//	cse           merge identical pure ops
//	dce           drop pure ops nothing uses
//	stats         parameter, FLOP and weight-byte counts into Context.Stats
//
// Pass tests live in testdata/*.ir: a `// RUN: deepc opt %s --passes ...`
// line and `// CHECK:` lines matched by internal/filecheck (see
// filecheck_test.go, which runs them in process).
package passes
