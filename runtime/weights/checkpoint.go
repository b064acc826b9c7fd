package weights

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/runtime"
)

// File names of a Hugging Face checkpoint directory.
const (
	SingleFile = "model.safetensors"
	IndexFile  = "model.safetensors.index.json"
)

// Checkpoint is an open checkpoint: one safetensors file, or the shards a
// model.safetensors.index.json names. Only headers are read on open.
type Checkpoint struct {
	// Path is the directory (or the single file) opened.
	Path string
	// Index reports whether the tensors were found through an index.
	Index bool
	// Shards are the open files, sorted by path.
	Shards []*File

	where map[string]*File
}

// OpenCheckpoint opens a checkpoint. path is a directory holding
// model.safetensors (preferred, as Hugging Face transformers does) or
// model.safetensors.index.json plus the shards it names, or a path to one
// .safetensors file. Every shard header is validated; a tensor the index
// maps to a shard must be in that shard, and every tensor of every shard
// must be in the index.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	c := &Checkpoint{Path: path, where: map[string]*File{}}
	if !st.IsDir() {
		return c, c.addSingle(path)
	}
	if _, err := os.Lstat(filepath.Join(path, SingleFile)); err == nil {
		f, err := OpenIn(path, SingleFile)
		if err != nil {
			return nil, err
		}
		c.setSingle(f)
		return c, nil
	}
	index := filepath.Join(path, IndexFile)
	if _, err := os.Lstat(index); err != nil {
		return nil, fmt.Errorf("checkpoint %s: found neither %s nor %s", path, SingleFile, IndexFile)
	}
	if err := c.openIndex(path, index); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Checkpoint) addSingle(path string) error {
	f, err := Open(path)
	if err != nil {
		return err
	}
	c.setSingle(f)
	return nil
}

func (c *Checkpoint) setSingle(f *File) {
	c.Shards = []*File{f}
	for _, t := range f.tensors {
		c.where[t.Name] = f
	}
}

// ValidShardName reports why name (from an index's weight_map) is not a
// plain file name inside the checkpoint directory, or nil.
func ValidShardName(name string) error {
	switch {
	case name == "":
		return errors.New("empty shard file name")
	case name == "." || name == ".." || strings.Contains(name, ".."):
		return fmt.Errorf("shard file name %q contains ..", name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("shard file name %q contains a path separator", name)
	case strings.ContainsRune(name, 0) || strings.ContainsRune(name, ':'):
		return fmt.Errorf("shard file name %q contains a NUL or ':'", name)
	case !filepath.IsLocal(name) || filepath.Base(name) != name:
		return fmt.Errorf("shard file name %q is not a plain local file name", name)
	}
	return nil
}

func (c *Checkpoint) openIndex(dir, index string) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", index, fmt.Sprintf(format, args...))
	}
	data, err := safefile.ReadInModel(dir, IndexFile, safefile.Index)
	if err != nil {
		return err
	}
	weightMap := map[string]string{}
	var haveMap bool
	err = decodeObject(data, func(key string, raw json.RawMessage) error {
		if key != "weight_map" {
			return nil
		}
		if haveMap {
			return errors.New("weight_map appears twice")
		}
		haveMap = true
		return decodeObject(raw, func(name string, raw json.RawMessage) error {
			var file string
			if err := json.Unmarshal(raw, &file); err != nil {
				return fmt.Errorf("weight_map[%q]: %v", name, err)
			}
			if _, dup := weightMap[name]; dup {
				return fmt.Errorf("weight_map lists tensor %q twice", name)
			}
			if err := ValidShardName(file); err != nil {
				return fmt.Errorf("weight_map[%q]: %v", name, err)
			}
			weightMap[name] = file
			return nil
		})
	})
	if err != nil {
		return fail("%v", err)
	}
	if !haveMap {
		return fail("no weight_map")
	}
	if len(weightMap) == 0 {
		return fail("weight_map is empty")
	}
	c.Index = true
	var files []string
	for _, f := range weightMap {
		files = append(files, f)
	}
	slices.Sort(files)
	files = slices.Compact(files)
	byFile := map[string]*File{}
	for _, name := range files {
		f, err := OpenIn(dir, name)
		if err != nil {
			return fmt.Errorf("shard %s (named by %s): %w", name, IndexFile, err)
		}
		c.Shards = append(c.Shards, f)
		byFile[name] = f
	}
	for _, name := range sortedKeys(weightMap) {
		file := weightMap[name]
		f := byFile[file]
		if _, ok := f.Info(name); !ok {
			return fail("tensor %q is mapped to %s, which does not hold it", name, file)
		}
		c.where[name] = f
	}
	for _, f := range c.Shards {
		for _, t := range f.tensors {
			if c.where[t.Name] != f {
				return fail("shard %s holds tensor %q, which the weight_map does not map to it", filepath.Base(f.Path), t.Name)
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Close closes every shard.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, f := range c.Shards {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// Names lists every tensor, sorted.
func (c *Checkpoint) Names() []string { return sortedKeys(c.where) }

// Info returns a tensor's header entry.
func (c *Checkpoint) Info(name string) (TensorInfo, bool) {
	f, ok := c.where[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// File returns the shard that holds a tensor.
func (c *Checkpoint) File(name string) (*File, bool) {
	f, ok := c.where[name]
	return f, ok
}

// Tensor reads one tensor as stored (see File.Tensor).
func (c *Checkpoint) Tensor(name string) (*runtime.Tensor, error) {
	f, ok := c.where[name]
	if !ok {
		return nil, &Error{Path: c.Path, Tensor: name, Err: ErrNoTensor}
	}
	return f.Tensor(name)
}

// Bytes is the total tensor data size.
func (c *Checkpoint) Bytes() int64 {
	var n int64
	for _, f := range c.Shards {
		n += f.Size - f.DataStart
	}
	return n
}
