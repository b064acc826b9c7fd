// Package dsl reads deepc's model language (.deep files) and elaborates it
// into the tensor IR: a participle grammar (ast.go) for the syntax, errors
// reported as file:line:col with the source line and a caret, and an
// interpreter over compile-time values (config, ints, floats, strings,
// dicts, tensor shapes) that inlines blocks, unrolls loops, resolves
// `extends`, binds symbolic dims and emits one ir op per built-in call. See
// the README for the language in one screen and docs/ARCHITECTURE.md for
// the decisions (blocks are inlined; a param is its checkpoint name).
package dsl
