package weights

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// rawFile builds a safetensors file from a header text and data bytes.
func rawFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func withLen(n uint64, rest string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

var allErrs = []error{
	ErrTooShort, ErrHeaderTooLarge, ErrHeaderTruncated, ErrHeaderStart, ErrHeaderUTF8,
	ErrHeaderJSON, ErrDuplicateTensor, ErrMetadata, ErrTensorEntry, ErrUnknownDType,
	ErrShape, ErrOffsets, ErrOffsetOrder, ErrSizeOverflow, ErrSizeMismatch, ErrOutOfFile,
	ErrGap, ErrOverlap, ErrTrailingBytes, ErrUnsupportedDType, ErrNoTensor,
}

// malformed lists files each rejected with its own error; tensor is the
// name the error must carry ("" when the error is about the file).
var malformed = []struct {
	name   string
	file   []byte
	want   error
	tensor string
}{
	{"too short", []byte{1, 0, 0}, ErrTooShort, ""},
	{"header too large", withLen(MaxHeaderSize+1, "{}"), ErrHeaderTooLarge, ""},
	{"header length past the end", withLen(100, "{}"), ErrHeaderTruncated, ""},
	{"huge header length", withLen(1<<63, "{}"), ErrHeaderTooLarge, ""},
	{"empty header", withLen(0, ""), ErrHeaderStart, ""},
	{"header not an object", rawFile(`["a"]`, nil), ErrHeaderStart, ""},
	{"leading space", rawFile(` {}`, nil), ErrHeaderStart, ""},
	{"invalid utf-8", rawFile("{\"\xff\xfe\":1}", nil), ErrHeaderUTF8, ""},
	{"truncated json", rawFile(`{"a":`, nil), ErrHeaderJSON, ""},
	{"garbage after the object", rawFile(`{} x`, nil), ErrHeaderJSON, ""},
	{"two objects", rawFile(`{}{}`, nil), ErrHeaderJSON, ""},
	{"duplicate tensor", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), ErrDuplicateTensor, "a"},
	{"metadata with a number", rawFile(`{"__metadata__":{"format":1}}`, nil), ErrMetadata, ""},
	{"metadata a list", rawFile(`{"__metadata__":["pt"]}`, nil), ErrMetadata, ""},
	{"entry without data_offsets", rawFile(`{"w":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), ErrTensorEntry, "w"},
	{"entry not an object", rawFile(`{"w":[1,2]}`, nil), ErrTensorEntry, "w"},
	{"entry keys are case-sensitive", rawFile(`{"w":{"DTYPE":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), ErrTensorEntry, "w"},
	{"dtype null", rawFile(`{"w":{"dtype":null,"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), ErrTensorEntry, "w"},
	{"unknown dtype", rawFile(`{"w":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 1)), ErrUnknownDType, "w"},
	{"negative dim", rawFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), ErrShape, "w"},
	{"fractional dim", rawFile(`{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`, make([]byte, 4)), ErrShape, "w"},
	{"quoted dim", rawFile(`{"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}`, make([]byte, 4)), ErrShape, "w"},
	{"three offsets", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 4)), ErrOffsets, "w"},
	{"negative offset", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, make([]byte, 4)), ErrOffsets, "w"},
	{"begin after end", rawFile(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}`, make([]byte, 8)), ErrOffsetOrder, "w"},
	{"numel overflows", rawFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)), ErrSizeOverflow, "w"},
	{"bytes overflow", rawFile(`{"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}}`, make([]byte, 4)), ErrSizeOverflow, "w"},
	{"size mismatch", rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), ErrSizeMismatch, "w"},
	{"past the end of the file", rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), ErrOutOfFile, "w"},
	{"gap", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), ErrGap, "b"},
	{"gap before the first tensor", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), ErrGap, "a"},
	{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), ErrOverlap, "b"},
	{"same data twice", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), ErrOverlap, "b"},
	{"trailing bytes", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)), ErrTrailingBytes, ""},
	{"data but no tensors", rawFile(`{}`, make([]byte, 1)), ErrTrailingBytes, ""},
}

func TestMalformed(t *testing.T) {
	seen := map[error]bool{}
	for _, c := range malformed {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.safetensors", bytes.NewReader(c.file), int64(len(c.file)))
			if err == nil {
				t.Fatalf("accepted")
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %q, want %q", err, c.want)
			}
			for _, other := range allErrs {
				if other != c.want && errors.Is(err, other) {
					t.Errorf("error %q also matches %q", err, other)
				}
			}
			var e *Error
			if !errors.As(err, &e) || e.Tensor != c.tensor || e.Path != "bad.safetensors" {
				t.Errorf("error %#v: want tensor %q in bad.safetensors", err, c.tensor)
			}
			if c.tensor != "" && !strings.Contains(err.Error(), `"`+c.tensor+`"`) {
				t.Errorf("error %q does not name the tensor", err)
			}
		})
		seen[c.want] = true
	}
	if len(seen) < 19 {
		t.Errorf("only %d distinct errors", len(seen))
	}
}

func TestUnsupportedDTypeOnRead(t *testing.T) {
	file := rawFile(`{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}`, make([]byte, 16))
	f, err := Parse("x", bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err) // a valid header: only reading it is unsupported
	}
	_, err = f.Tensor("ids")
	if !errors.Is(err, ErrUnsupportedDType) || !strings.Contains(err.Error(), `"ids"`) || !strings.Contains(err.Error(), "I64") {
		t.Errorf("got %v", err)
	}
	if _, err := f.Raw("ids"); err != nil {
		t.Errorf("raw read: %v", err)
	}
	if _, err := f.Tensor("nope"); !errors.Is(err, ErrNoTensor) {
		t.Errorf("missing tensor: %v", err)
	}
}

func TestAcceptsReferenceQuirks(t *testing.T) {
	for name, header := range map[string]string{
		"padded with spaces":  `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   `,
		"metadata null":       `{"__metadata__":null,"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
		"unknown entry field": `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}`,
		"out of order":        `{"b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
	} {
		file := rawFile(header, make([]byte, 4))
		if _, err := Parse(name, bytes.NewReader(file), int64(len(file))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	empty := rawFile(`{}`, nil)
	if f, err := Parse("empty", bytes.NewReader(empty), int64(len(empty))); err != nil || len(f.Tensors()) != 0 {
		t.Errorf("empty file: %v", err)
	}
}

func sampleTensors() []NamedTensor {
	mk := func(dt ir.DType, shape []int, vals ...float32) *runtime.Tensor {
		t := runtime.NewTensor(dt, shape...)
		for i := range t.F {
			t.F[i] = vals[i%len(vals)] * float32(i+1)
		}
		roundTo(t)
		return t
	}
	q, _ := QuantizeBlocks(mk(ir.F32, []int{130, 200}, 0.01, -0.02, 0.5), [2]int{128, 128})
	return []NamedTensor{
		{"a.weight", mk(ir.F32, []int{3, 5}, 1.5, -2.25, 1e-30)},
		{"b.weight", mk(ir.BF16, []int{7}, 3.140625, -1)},
		{"c.weight", mk(ir.F16, []int{2, 2, 2}, 0.1, 6e-8, -3)},
		{"scalar", mk(ir.F32, nil, 42)},
		{"empty", mk(ir.BF16, []int{0, 4}, 1)},
		{"q.weight", q},
	}
}

func TestRoundTrip(t *testing.T) {
	ts := sampleTensors()
	data, err := Encode(ts)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := Encode(ts); !bytes.Equal(data, again) {
		t.Fatal("Encode is not deterministic")
	}
	f, err := Parse("rt", bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if (f.DataStart-8)%8 != 0 {
		t.Errorf("header of %d bytes is not padded to 8", f.DataStart-8)
	}
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata)
	}
	var names []string
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
	}
	want := []string{"a.weight", "b.weight", "c.weight", "scalar", "empty", "q.weight", "q.weight_scale_inv"}
	if !slices.Equal(names, want) {
		t.Errorf("tensors %v, want %v", names, want)
	}
	for _, nt := range ts {
		got, err := f.Tensor(nt.Name)
		if err != nil {
			t.Fatal(err)
		}
		assertTensor(t, nt.Name, got, &runtime.Tensor{DType: nt.T.DType, Shape: nt.T.Shape, F: nt.T.F})
		if nt.T.Scale != nil {
			s, err := f.Tensor(ScaleName(nt.Name))
			if err != nil {
				t.Fatal(err)
			}
			assertTensor(t, ScaleName(nt.Name), s, nt.T.Scale)
		}
	}
}

func assertTensor(t *testing.T, name string, got, want *runtime.Tensor) {
	t.Helper()
	if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) || len(got.F) != len(want.F) {
		t.Fatalf("%s: got %s %v (%d values), want %s %v (%d)", name, got.DType, got.Shape, len(got.F), want.DType, want.Shape, len(want.F))
	}
	for i := range got.F {
		if got.F[i] != want.F[i] {
			t.Fatalf("%s[%d] = %g, want %g", name, i, got.F[i], want.F[i])
		}
	}
	if (got.Scale == nil) != (want.Scale == nil) || got.Block != want.Block {
		t.Fatalf("%s: scale %v block %v, want scale %v block %v", name, got.Scale != nil, got.Block, want.Scale != nil, want.Block)
	}
	if got.Scale != nil {
		assertTensor(t, name+" scale", got.Scale, want.Scale)
	}
}

// countingReader counts the bytes read past the header.
type countingReader struct {
	r         *bytes.Reader
	dataStart int64
	dataReads atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > c.dataStart {
		c.dataReads.Add(int64(len(p)))
	}
	return c.r.ReadAt(p, off)
}

func TestHeaderOnlyReadsNoData(t *testing.T) {
	data, _ := Encode(sampleTensors())
	hlen := int64(binary.LittleEndian.Uint64(data))
	cr := &countingReader{r: bytes.NewReader(data), dataStart: 8 + hlen}
	f, err := Parse("x", cr, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if n := cr.dataReads.Load(); n != 0 {
		t.Fatalf("parsing read %d data bytes", n)
	}
	if _, err := f.Tensor("b.weight"); err != nil {
		t.Fatal(err)
	}
	if n := cr.dataReads.Load(); n != 14 {
		t.Errorf("reading one 7-element bf16 tensor read %d data bytes", n)
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	if err := WriteFile(path, sampleTensors()); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Tensor("q.weight"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Error("opened a directory")
	}
	// A file truncated by one byte fails with the out-of-file error.
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)-1], 0o644)
	if _, err := Open(path); !errors.Is(err, ErrOutOfFile) {
		t.Errorf("truncated file: %v", err)
	}
}

func TestWriteRejects(t *testing.T) {
	i32 := runtime.NewTensor(ir.I32, 2)
	bad := runtime.NewTensor(ir.F32, 2, 2)
	bad.F = bad.F[:3]
	bf := runtime.NewTensor(ir.BF16, 2, 2)
	bf.Scale = runtime.NewTensor(ir.F32, 1, 1)
	q := runtime.NewTensor(ir.F8E4M3, 2, 2)
	q.Scale, q.Block = runtime.NewTensor(ir.F32, 2, 1), [2]int{128, 128}
	for name, ts := range map[string][]NamedTensor{
		"int dtype":     {{"x", i32}},
		"short storage": {{"x", bad}},
		"scale on bf16": {{"x", bf}},
		"wrong grid":    {{"x", q}},
		"duplicate":     {{"x", bad}, {"x", bad}},
		"nil":           {{"x", nil}},
	} {
		if _, err := Encode(ts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	q.Scale = runtime.NewTensor(ir.F32, 1, 1)
	if _, err := Encode([]NamedTensor{{"x.weight", q}, {"x.weight_scale_inv", runtime.NewTensor(ir.F32, 1, 1)}}); err == nil {
		t.Error("a scale written twice is accepted")
	}
}
