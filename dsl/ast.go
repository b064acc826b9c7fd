package dsl

import "github.com/alecthomas/participle/v2/lexer"

// The AST, as participle grammar annotations. Every node keeps its position
// so that every error can point at the source.

// File is one .deep file.
type File struct {
	Pos     lexer.Position
	Model   string   `"model" @Ident`
	Extends *Extends `@@?`
	Decls   []*Decl  `@@*`
}

// Extends names the model file this one reuses: its config (which this
// file's config overrides entry by entry) and its blocks (same-named blocks
// here replace them).
type Extends struct {
	Pos  lexer.Position
	Path string `"extends" @String`
}

// Decl is a top-level declaration.
type Decl struct {
	Pos        lexer.Position
	Config     *Config     `  @@`
	Checkpoint *Checkpoint `| @@`
	Block      *BlockAST   `| @@`
	If         *TopIf      `| @@`
	Assert     *AssertStmt `| @@`
}

// Config holds named compile-time values; later entries may use earlier ones.
// Config is a config block. In a model that extends another, a plain
// block may only set keys the base defines (a misspelt key is an error);
// `config new { ... }` adds keys of its own.
type Config struct {
	Pos     lexer.Position
	New     bool           `"config" @"new"?`
	Entries []*ConfigEntry `"{" @@* "}"`
}

// Checkpoint is the model's Hugging Face checkpoint contract: the
// architecture its config.json names, and how config.json's keys map to the
// model's config. An entry whose value is a bare config key maps both ways
// (init writes the key's value; a checkpoint's value sets the key); any
// other value is a compile-time expression that init writes and a
// checkpoint's config.json must agree with when it has the key;
// nullable(key) maps both ways with 0 written and read as null. `ignore`
// lists config.json keys that do not change the computation. A model that
// extends another inherits its contract unless it declares its own.
type Checkpoint struct {
	Pos     lexer.Position
	Arch    string         `"checkpoint" @String`
	Ignore  []string       `( "ignore" "[" ( @String ( "," @String )* ","? )? "]" )?`
	Entries []*ConfigEntry `"{" @@* "}"`
}

type ConfigEntry struct {
	Pos   lexer.Position
	Name  string `@Ident "="`
	Value *Expr  `@@ ","?`
}

// TopIf declares blocks only when a compile-time condition holds.
type TopIf struct {
	Pos   lexer.Position
	Cond  *Expr   `"if" @@`
	Decls []*Decl `"{" @@* "}"`
	Else  []*Decl `( "else" "{" @@* "}" )?`
}

// BlockAST is a function over tensors, inlined at every call. Exported blocks
// become functions of the compiled module; a composite block becomes an op
// of its own, whose decomposition is the block's body (ir.DeclareComposite).
type BlockAST struct {
	Pos       lexer.Position
	Export    bool        `@"export"?`
	Composite bool        `@"composite"?`
	Name      string      `"block" @Ident`
	Args      []*ArgDecl  `"(" ( @@ ( "," @@ )* )? ")"`
	Result    *ResultType `( "->" @@ )?`
	Body      []*Stmt     `"{" @@* "}"`
}

type ArgDecl struct {
	Pos  lexer.Position
	Name string    `@Ident`
	Type *TypeExpr `( ":" @@ )?`
}

// TypeExpr is a scalar kind (int, float, string, bool) or a tensor type.
type TypeExpr struct {
	Pos    lexer.Position
	Scalar string      `  @( "int" | "float" | "string" | "bool" )`
	Tensor *TensorType `| @@`
}

// TensorType is `[d0, d1, ...] dtype`; dims are expressions, and a name bound
// to nothing is a symbol (T) that binds on first use.
type TensorType struct {
	Pos   lexer.Position
	Dims  []*Expr `"[" ( @@ ( "," @@ )* )? "]"`
	DType *Ident  `@@`
}

type Ident struct {
	Pos  lexer.Position
	Name string `@Ident`
}

type ResultType struct {
	Pos   lexer.Position
	Tuple []*TypeExpr `  "(" @@ ( "," @@ )* ")"`
	One   *TypeExpr   `| @@`
}

// Stmt is one statement in a block body.
type Stmt struct {
	Pos    lexer.Position
	Param  *ParamStmt  `  @@`
	If     *IfStmt     `| @@`
	For    *ForStmt    `| @@`
	Return *ReturnStmt `| @@`
	Assert *AssertStmt `| @@`
	Assign *AssignStmt `| @@`
}

// ParamStmt declares a weight or state tensor of the module.
type ParamStmt struct {
	Pos   lexer.Position
	Name  string      `"param" @Ident ":"`
	Type  *TensorType `@@`
	Attrs []*KwArg    `( "{" ( @@ ( "," @@ )* ","? )? "}" )?`
}

type IfStmt struct {
	Pos  lexer.Position
	Cond *Expr   `"if" @@`
	Then []*Stmt `"{" @@* "}"`
	Else *Else   `( "else" @@ )?`
}

type Else struct {
	Pos  lexer.Position
	If   *IfStmt `  @@`
	Body []*Stmt `| "{" @@* "}"`
}

// ForStmt is a compile-time loop, unrolled: `for i in 0..n { ... }`.
type ForStmt struct {
	Pos  lexer.Position
	Var  string  `"for" @Ident "in"`
	From *Expr   `@@ ".."`
	To   *Expr   `@@`
	Body []*Stmt `"{" @@* "}"`
}

type ReturnStmt struct {
	Pos    lexer.Position
	Values []*Expr `"return" ( @@ ( "," @@ )* )?`
}

// AssertStmt fails compilation with its message when the condition is false.
type AssertStmt struct {
	Pos     lexer.Position
	Cond    *Expr  `"assert" @@`
	Message string `"," @String`
}

// AssignStmt binds names: `x = e` or `a, b = e` for a tuple result.
type AssignStmt struct {
	Pos     lexer.Position
	Targets []*Ident `@@ ( "," @@ )* "="`
	Value   *Expr    `@@`
}

// Expressions, one level per precedence.

type Expr struct {
	Pos    lexer.Position
	EndPos lexer.Position // just past its last token: errors quote it
	Left   *AndExpr       `@@`
	Right  []*OrRest      `@@*`
}

type OrRest struct {
	Pos   lexer.Position
	Right *AndExpr `"or" @@`
}

type AndExpr struct {
	Pos   lexer.Position
	Left  *NotExpr   `@@`
	Right []*AndRest `@@*`
}

type AndRest struct {
	Pos   lexer.Position
	Right *NotExpr `"and" @@`
}

type NotExpr struct {
	Pos lexer.Position
	Not *NotExpr `  "not" @@`
	Cmp *CmpExpr `| @@`
}

type CmpExpr struct {
	Pos   lexer.Position
	Left  *SumExpr `@@`
	Op    string   `( @( "==" | "!=" | "<=" | ">=" | "<" | ">" )`
	Right *SumExpr `  @@ )?`
}

type SumExpr struct {
	Pos   lexer.Position
	Left  *ProdExpr  `@@`
	Right []*SumRest `@@*`
}

type SumRest struct {
	Pos   lexer.Position
	Op    string    `@( "+" | "-" )`
	Right *ProdExpr `@@`
}

type ProdExpr struct {
	Pos   lexer.Position
	Left  *UnaryExpr  `@@`
	Right []*ProdRest `@@*`
}

type ProdRest struct {
	Pos   lexer.Position
	Op    string     `@( "*" | "/" | "%" )`
	Right *UnaryExpr `@@`
}

type UnaryExpr struct {
	Pos   lexer.Position
	Neg   *UnaryExpr `  "-" @@`
	Power *PowExpr   `| @@`
}

type PowExpr struct {
	Pos  lexer.Position
	Base *Postfix   `@@`
	Exp  *UnaryExpr `( "**" @@ )?`
}

type Postfix struct {
	Pos     lexer.Position
	Primary *Primary  `@@`
	Suffix  []*Suffix `@@*`
}

// Suffix is a field access `.name` or a call `(args)`.
type Suffix struct {
	Pos   lexer.Position
	Field *string `  "." @Ident`
	Call  *Call   `| "(" @@ ")"`
}

type Call struct {
	Pos  lexer.Position
	Args []*Arg `( @@ ( "," @@ )* ","? )?`
}

// Arg is a positional or keyword argument.
type Arg struct {
	Pos   lexer.Position
	Kw    *KwArg `  @@`
	Value *Expr  `| @@`
}

type KwArg struct {
	Pos   lexer.Position
	Name  string `@Ident "="`
	Value *Expr  `@@`
}

type Primary struct {
	Pos    lexer.Position
	Float  *float64   `  @Float`
	Int    *int64     `| @Int`
	String *string    `| @String`
	Bool   *string    `| @( "true" | "false" )`
	None   bool       `| @"none"`
	Name   *string    `| @Ident`
	Paren  *Expr      `| "(" @@ ")"`
	List   *ListLit   `| @@`
	Struct *StructLit `| @@`
}

type ListLit struct {
	Pos   lexer.Position
	Items []*Expr `"[" ( @@ ( "," @@ )* ","? )? "]"`
}

type StructLit struct {
	Pos    lexer.Position
	Fields []*KwArg `"{" ( @@ ( "," @@ )* ","? )? "}"`
}
