package train

import (
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/runtime/tokenizer"
)

// Corpus is a set of text files split by file into training and validation
// parts, read as a token stream and cut into packed sequences.
//
// The split is a hash of each file's path relative to the corpus root
// (ValPercent of files go to validation), so it does not depend on the
// machine or on the other files. Training files are read in an order
// shuffled by the seed, a new order each epoch; each file's tokens are
// followed by EOS, and the stream is cut into sequences of SeqLen tokens.
// Where the stream is (epoch, file, token) is the Cursor, saved in
// checkpoints so a resumed run reads on from exactly there.
type Corpus struct {
	Root  string
	Train []string // relative paths, sorted
	Val   []string
	tok   tokenizer.Tokenizer
	eos   int
}

// ValPercent is the share of files (by path hash) kept for validation.
const ValPercent = 5

// Cursor is a position in the training stream: where a window of
// sequences starts, the window's number, and how many of its sequences
// have been handed out.
type Cursor struct {
	Epoch  int `json:"epoch"`
	File   int `json:"file"`  // index into the epoch's order
	Token  int `json:"token"` // next token of that file
	Window int `json:"window"`
	Used   int `json:"used"`
}

// DefaultGlob is the default corpus: the Go standard library of the
// installed toolchain.
func DefaultGlob(goroot string) string { return filepath.Join(goroot, "src", "**", "*.go") }

// OpenCorpus collects the files matching glob (a filepath.Match pattern
// where a "**" element matches any number of directories).
func OpenCorpus(glob string, tok tokenizer.Tokenizer) (*Corpus, error) {
	root, pattern := splitGlob(glob)
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if ok, _ := matchGlob(pattern, filepath.ToSlash(rel)); ok && d.Type().IsRegular() {
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w", glob, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("--data %s: no files match", glob)
	}
	slices.Sort(files)
	c := &Corpus{Root: root, tok: tok}
	eos, ok := tok.EOS()
	if !ok {
		return nil, fmt.Errorf("the tokenizer has no EOS token to separate files")
	}
	c.eos = eos
	for _, f := range files {
		h := fnv.New32a()
		h.Write([]byte(f))
		if h.Sum32()%100 < ValPercent {
			c.Val = append(c.Val, f)
		} else {
			c.Train = append(c.Train, f)
		}
	}
	if len(c.Train) == 0 || len(c.Val) == 0 {
		return nil, fmt.Errorf("--data %s: %d files are too few to split into training and validation", glob, len(files))
	}
	return c, nil
}

// splitGlob cuts a glob into the directory to walk and the pattern below.
func splitGlob(glob string) (root, pattern string) {
	parts := strings.Split(filepath.ToSlash(glob), "/")
	i := 0
	for i < len(parts)-1 && !strings.ContainsAny(parts[i], "*?[") {
		i++
	}
	root = strings.Join(parts[:i], "/")
	if root == "" {
		root = "."
		if strings.HasPrefix(glob, "/") {
			root = "/"
		}
	}
	return filepath.FromSlash(root), strings.Join(parts[i:], "/")
}

// matchGlob matches a slash-separated path against a pattern whose "**"
// elements match zero or more directories.
func matchGlob(pattern, path string) (bool, error) {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	var match func(i, j int) (bool, error)
	match = func(i, j int) (bool, error) {
		if i == len(ps) {
			return j == len(xs), nil
		}
		if ps[i] == "**" {
			for k := j; k <= len(xs); k++ {
				if ok, err := match(i+1, k); ok || err != nil {
					return ok, err
				}
			}
			return false, nil
		}
		if j == len(xs) {
			return false, nil
		}
		ok, err := filepath.Match(ps[i], xs[j])
		if !ok || err != nil {
			return false, err
		}
		return match(i+1, j+1)
	}
	return match(0, 0)
}

// order is the training files' order in an epoch.
func (c *Corpus) order(seed uint64, epoch int) []int {
	rng := rand.New(rand.NewPCG(seed, uint64(epoch)))
	return rng.Perm(len(c.Train))
}

func (c *Corpus) tokens(rel string) ([]int, error) {
	b, err := safefile.ReadFile(filepath.Join(c.Root, filepath.FromSlash(rel)), safefile.Corpus)
	if err != nil {
		return nil, err
	}
	ids, err := c.tok.EncodeErr(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return append(ids, c.eos), nil
}

// Reader hands out training batches from a cursor on. Sequences are cut
// from the stream a window of ShuffleWindow at a time and handed out in
// an order shuffled by the seed and the window's number, so that a batch
// mixes many files rather than the consecutive pieces of one.
type Reader struct {
	c      *Corpus
	seed   uint64
	pos    Cursor // the stream: where the next window starts
	order  []int
	buf    []int // tokens of the current file from pos.Token on
	loaded bool

	start  Cursor  // where the current window started
	window [][]int // its sequences
	perm   []int
	used   int
	resume int // sequences of the first window already used (a resumed run)
}

// ShuffleWindow is how many sequences are shuffled together.
const ShuffleWindow = 256

// NewReader reads the training stream from cur with the file orders of
// seed. cur comes from a resume state, so it is checked against the
// corpus first (a token past the end of its file is found when the file
// is read).
func (c *Corpus) NewReader(seed uint64, cur Cursor) (*Reader, error) {
	switch {
	case cur.Epoch < 0 || cur.Window < 0 || cur.Token < 0:
		return nil, fmt.Errorf("data cursor %+v: negative position", cur)
	case cur.File >= len(c.Train):
		return nil, fmt.Errorf("data cursor %+v: file %d of an epoch of %d files (is this the corpus the run was trained on?)", cur, cur.File, len(c.Train))
	case cur.File < 0 || cur.Used < 0 || cur.Used >= ShuffleWindow:
		return nil, fmt.Errorf("data cursor %+v: file or used sequences out of range (0..%d)", cur, ShuffleWindow-1)
	}
	pos := Cursor{Epoch: cur.Epoch, File: cur.File, Token: cur.Token, Window: cur.Window}
	return &Reader{c: c, seed: seed, pos: pos, order: c.order(seed, cur.Epoch), resume: cur.Used}, nil
}

// Cursor is where the next batch starts: the current window's start in
// the stream, its number, and how many of its sequences are used.
func (r *Reader) Cursor() Cursor {
	if r.window == nil {
		return Cursor{Epoch: r.pos.Epoch, File: r.pos.File, Token: r.pos.Token, Window: r.pos.Window, Used: r.resume}
	}
	c := r.start
	c.Used = r.used
	return c
}

// Next returns B sequences of S tokens.
func (r *Reader) Next(B, S int) (Batch, error) {
	var b Batch
	for len(b.Seqs) < B {
		if r.window == nil || r.used == len(r.window) {
			if err := r.fill(S); err != nil {
				return Batch{}, err
			}
		}
		b.Seqs = append(b.Seqs, r.window[r.perm[r.used]])
		r.used++
	}
	return b, nil
}

// fill cuts the next window of sequences from the stream.
func (r *Reader) fill(S int) error {
	if r.window != nil {
		r.pos.Window++
	}
	r.start = r.pos
	r.window = r.window[:0]
	for len(r.window) < ShuffleWindow {
		seq, err := r.readSeq(S)
		if err != nil {
			return err
		}
		r.window = append(r.window, seq)
	}
	rng := rand.New(rand.NewPCG(r.seed, 1<<32+uint64(r.start.Window)))
	r.perm = rng.Perm(len(r.window))
	r.used, r.resume = r.resume, 0
	return nil
}

// readSeq reads S tokens of the stream.
func (r *Reader) readSeq(S int) ([]int, error) {
	seq := make([]int, 0, S)
	for len(seq) < S {
		if !r.loaded {
			toks, err := r.c.tokens(r.c.Train[r.order[r.pos.File]])
			if err != nil {
				return nil, err
			}
			if r.pos.Token > len(toks) {
				return nil, fmt.Errorf("data cursor %+v is past the end of %s", r.pos, r.c.Train[r.order[r.pos.File]])
			}
			r.buf, r.loaded = toks[r.pos.Token:], true
		}
		n := min(S-len(seq), len(r.buf))
		seq = append(seq, r.buf[:n]...)
		r.buf = r.buf[n:]
		r.pos.Token += n
		if len(r.buf) == 0 {
			r.loaded = false
			r.pos.File, r.pos.Token = r.pos.File+1, 0
			if r.pos.File == len(r.order) {
				r.pos.Epoch, r.pos.File = r.pos.Epoch+1, 0
				r.order = r.c.order(r.seed, r.pos.Epoch)
			}
		}
	}
	return seq, nil
}

// ValBatches returns up to n batches of B×S tokens from the validation
// files, in sorted order: the same every time.
func (c *Corpus) ValBatches(n, B, S int) ([]Batch, error) {
	var stream []int
	for _, f := range c.Val {
		toks, err := c.tokens(f)
		if err != nil {
			return nil, err
		}
		stream = append(stream, toks...)
		if len(stream) >= n*B*S {
			break
		}
	}
	var out []Batch
	for len(out) < n && len(stream) >= B*S {
		var b Batch
		for i := 0; i < B; i++ {
			b.Seqs = append(b.Seqs, stream[:S])
			stream = stream[S:]
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the validation files hold fewer than %d tokens", B*S)
	}
	return out, nil
}

// UnigramEntropy is the entropy (nats per token) of the validation
// tokens' own frequencies: the loss of the best unigram model of that
// data, the baseline a language model must beat.
func (c *Corpus) UnigramEntropy() (float64, error) {
	counts := map[int]float64{}
	var n float64
	for _, f := range c.Val {
		toks, err := c.tokens(f)
		if err != nil {
			return 0, err
		}
		for _, t := range toks {
			counts[t]++
			n++
		}
	}
	var h float64
	for _, k := range counts {
		p := k / n
		h -= p * math.Log(p)
	}
	return h, nil
}
