package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// MaxHeaderSize is the largest JSON header a safetensors file may declare
// (the reference implementation's limit).
const MaxHeaderSize = 100_000_000

// Every way a safetensors file can be malformed has its own error; a
// returned *Error wraps exactly one of them (test with errors.Is).
var (
	ErrTooShort         = errors.New("file is shorter than the 8-byte header length")
	ErrHeaderTooLarge   = errors.New("header length exceeds the 100 MB limit")
	ErrHeaderTruncated  = errors.New("header extends past the end of the file")
	ErrHeaderStart      = errors.New("header does not start with '{'")
	ErrHeaderUTF8       = errors.New("header is not valid UTF-8")
	ErrHeaderJSON       = errors.New("header is not a valid JSON object")
	ErrDuplicateTensor  = errors.New("tensor name appears twice in the header")
	ErrMetadata         = errors.New("__metadata__ is not an object of strings")
	ErrTensorEntry      = errors.New("tensor entry is not an object with dtype, shape and data_offsets")
	ErrUnknownDType     = errors.New("unknown dtype")
	ErrShape            = errors.New("shape is not a list of non-negative integers")
	ErrOffsets          = errors.New("data_offsets is not a pair of non-negative integers")
	ErrOffsetOrder      = errors.New("data_offsets begin is after end")
	ErrSizeOverflow     = errors.New("tensor size overflows")
	ErrSizeMismatch     = errors.New("data size does not match shape and dtype")
	ErrOutOfFile        = errors.New("tensor data extends past the end of the file")
	ErrGap              = errors.New("gap between tensors in the data section")
	ErrOverlap          = errors.New("tensor data overlaps another tensor")
	ErrTrailingBytes    = errors.New("data section has bytes after the last tensor")
	ErrUnsupportedDType = errors.New("dtype is not supported (want F32, BF16, F16 or F8_E4M3)")
	ErrNoTensor         = errors.New("no such tensor")
)

// Error is a safetensors format or read error: the file, the tensor when
// the error is about one, and the reason (one of the Err* values).
type Error struct {
	Path   string
	Tensor string // "" when the error is not about one tensor
	Err    error
	Detail string
}

func (e *Error) Error() string {
	s := e.Path + ": "
	if e.Tensor != "" {
		s += "tensor " + strconv.Quote(e.Tensor) + ": "
	}
	s += e.Err.Error()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// dtypeSizes are the element sizes of the dtypes the reference
// implementation knows. The header of a file with any of them is valid;
// only F32, BF16, F16 and F8_E4M3 can be read into tensors.
var dtypeSizes = map[string]int64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8, "C64": 8,
}

// Safetensors dtype names of the supported dtypes.
const (
	F32    = "F32"
	BF16   = "BF16"
	F16    = "F16"
	F8E4M3 = "F8_E4M3"
)

// IRDType maps a supported safetensors dtype name to the IR dtype.
func IRDType(st string) (ir.DType, bool) {
	switch st {
	case F32:
		return ir.F32, true
	case BF16:
		return ir.BF16, true
	case F16:
		return ir.F16, true
	case F8E4M3:
		return ir.F8E4M3, true
	}
	return ir.Invalid, false
}

// STDType maps an IR dtype to its safetensors name (supported dtypes only).
func STDType(dt ir.DType) (string, bool) {
	switch dt {
	case ir.F32:
		return F32, true
	case ir.BF16:
		return BF16, true
	case ir.F16:
		return F16, true
	case ir.F8E4M3:
		return F8E4M3, true
	}
	return "", false
}

// TensorInfo is one tensor's header entry.
type TensorInfo struct {
	Name  string
	DType string // safetensors name: "F32", "BF16", "F16", "F8_E4M3", ...
	Shape []int
	// Begin and End are byte offsets into the data section (after the header).
	Begin, End int64
}

// Size is the tensor's data size in bytes.
func (t TensorInfo) Size() int64 { return t.End - t.Begin }

// Numel is the element count.
func (t TensorInfo) Numel() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= int64(d)
	}
	return n
}

// File is an open safetensors file. The header is parsed and validated on
// open; tensor data is read only when asked for (ReadAt), so checking
// headers costs no data reads.
type File struct {
	Path     string
	Metadata map[string]string // __metadata__, nil when absent
	// Size is the file size; DataStart the offset of the data section.
	Size, DataStart int64

	tensors []TensorInfo // in data order
	index   map[string]int
	r       io.ReaderAt
	closer  io.Closer
}

// Open opens and validates the safetensors file at path (a regular file;
// a FIFO or device is refused without blocking, see internal/safefile).
func Open(path string) (*File, error) {
	f, err := safefile.Open(path)
	if err != nil {
		return nil, err
	}
	return parseOpen(path, f)
}

// OpenIn opens the safetensors file name inside the checkpoint directory
// dir: a plain name, never a link (it could reach outside dir) — except
// in a Hugging Face hub snapshot (safefile.OpenInModel).
func OpenIn(dir, name string) (*File, error) {
	f, err := safefile.OpenInModel(dir, name)
	if err != nil {
		return nil, err
	}
	return parseOpen(filepath.Join(dir, name), f)
}

func parseOpen(path string, f *os.File) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	sf, err := Parse(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	sf.closer = f
	return sf, nil
}

// Parse reads and validates the header of a safetensors file of the given
// size held by r; name is used in errors. Data is read later, from r.
func Parse(name string, r io.ReaderAt, size int64) (*File, error) {
	fail := func(tensor string, err error, detail string, args ...any) (*File, error) {
		return nil, &Error{Path: name, Tensor: tensor, Err: err, Detail: fmt.Sprintf(detail, args...)}
	}
	var lenBuf [8]byte
	if size < 8 {
		return fail("", ErrTooShort, "%d bytes", size)
	}
	if err := readFull(r, lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return fail("", ErrHeaderTooLarge, "%d bytes", n)
	}
	if int64(n) > size-8 {
		return fail("", ErrHeaderTruncated, "header of %d bytes, file of %d", n, size)
	}
	header := make([]byte, n)
	if err := readFull(r, header, 8); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f := &File{Path: name, Size: size, DataStart: 8 + int64(n), r: r, index: map[string]int{}}
	if err := f.parseHeader(header); err != nil {
		return nil, err
	}
	return f, nil
}

// readFull reads len(buf) bytes at off; io.EOF with a full read is success
// (io.ReaderAt allows either at the end of the input).
func readFull(r io.ReaderAt, buf []byte, off int64) error {
	if len(buf) == 0 {
		return nil
	}
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (f *File) parseHeader(header []byte) error {
	fail := func(tensor string, err error, detail string, args ...any) error {
		return &Error{Path: f.Path, Tensor: tensor, Err: err, Detail: fmt.Sprintf(detail, args...)}
	}
	if len(header) == 0 || header[0] != '{' {
		return fail("", ErrHeaderStart, "")
	}
	if !utf8.Valid(header) {
		return fail("", ErrHeaderUTF8, "")
	}
	var detailErr error
	err := decodeObject(header, func(key string, raw json.RawMessage) error {
		if key == "__metadata__" {
			if f.Metadata != nil {
				detailErr = fail(key, ErrDuplicateTensor, "")
				return detailErr
			}
			var md map[string]string
			if err := json.Unmarshal(raw, &md); err != nil {
				detailErr = fail("", ErrMetadata, "%v", err)
				return detailErr
			}
			if md == nil {
				md = map[string]string{}
			}
			f.Metadata = md
			return nil
		}
		if _, dup := f.index[key]; dup {
			detailErr = fail(key, ErrDuplicateTensor, "")
			return detailErr
		}
		e, err := parseEntry(raw)
		if err != nil {
			detailErr = fail(key, ErrTensorEntry, "%v", err)
			return detailErr
		}
		t := TensorInfo{Name: key, DType: e.dtype}
		if _, ok := dtypeSizes[t.DType]; !ok {
			detailErr = fail(key, ErrUnknownDType, "%q", t.DType)
			return detailErr
		}
		t.Shape = make([]int, len(e.shape))
		for i, d := range e.shape {
			v, err := strconv.ParseUint(string(d), 10, 63)
			if err != nil || v > math.MaxInt {
				detailErr = fail(key, ErrShape, "dim %d is %s", i, d)
				return detailErr
			}
			t.Shape[i] = int(v)
		}
		if len(e.offsets) != 2 {
			detailErr = fail(key, ErrOffsets, "%d values", len(e.offsets))
			return detailErr
		}
		var off [2]int64
		for i, d := range e.offsets {
			v, err := strconv.ParseUint(string(d), 10, 63)
			if err != nil {
				detailErr = fail(key, ErrOffsets, "%s", d)
				return detailErr
			}
			off[i] = int64(v)
		}
		t.Begin, t.End = off[0], off[1]
		f.index[key] = len(f.tensors)
		f.tensors = append(f.tensors, t)
		return nil
	})
	if detailErr != nil {
		return detailErr
	}
	if err != nil {
		return fail("", ErrHeaderJSON, "%v", err)
	}
	return f.validate()
}

type entry struct {
	dtype          string
	shape, offsets []json.RawMessage
}

// parseEntry reads a tensor entry {"dtype": s, "shape": [..], "data_offsets":
// [b, e]}: key names are matched exactly, other keys are ignored (as the
// reference does), and each of the three must appear once.
func parseEntry(raw json.RawMessage) (entry, error) {
	var e entry
	seen := map[string]bool{}
	err := decodeObject(raw, func(k string, v json.RawMessage) error {
		var err error
		switch k {
		case "dtype":
			err = json.Unmarshal(v, &e.dtype)
		case "shape":
			err = json.Unmarshal(v, &e.shape)
		case "data_offsets":
			err = json.Unmarshal(v, &e.offsets)
		default:
			return nil
		}
		if err == nil && string(v) == "null" {
			err = fmt.Errorf("%s is null", k)
		}
		if err == nil && seen[k] {
			err = fmt.Errorf("%s appears twice", k)
		}
		seen[k] = true
		return err
	})
	if err != nil {
		return e, err
	}
	for _, k := range []string{"dtype", "shape", "data_offsets"} {
		if !seen[k] {
			return e, fmt.Errorf("no %s", k)
		}
	}
	return e, nil
}

// decodeObject walks a JSON object's members in order, calling fn for each;
// unlike json.Unmarshal into a map, it lets the caller see duplicate keys.
// Anything but exactly one object (whitespace around it allowed) is an error.
func decodeObject(data []byte, fn func(key string, raw json.RawMessage) error) (err error) {
	defer func() {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}()
	d := json.NewDecoder(bytes.NewReader(data))
	tok, err := d.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("not an object")
	}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("object key is not a string")
		}
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return err
		}
		if err := fn(key, raw); err != nil {
			return err
		}
	}
	if _, err := d.Token(); err != nil { // the closing '}'
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("data after the object")
	}
	return nil
}

// validate checks every tensor's size and that the tensors tile the data
// section exactly: in bounds, contiguous, no gaps, no overlaps, no trailing
// bytes.
func (f *File) validate() error {
	fail := func(tensor string, err error, detail string, args ...any) error {
		return &Error{Path: f.Path, Tensor: tensor, Err: err, Detail: fmt.Sprintf(detail, args...)}
	}
	dataLen := f.Size - f.DataStart
	for _, t := range f.tensors {
		if t.Begin > t.End {
			return fail(t.Name, ErrOffsetOrder, "[%d, %d]", t.Begin, t.End)
		}
		n := uint64(1)
		for _, d := range t.Shape {
			hi, lo := bits.Mul64(n, uint64(d))
			if hi != 0 || lo > math.MaxInt64 {
				return fail(t.Name, ErrSizeOverflow, "shape %v", t.Shape)
			}
			n = lo
		}
		hi, nbytes := bits.Mul64(n, uint64(dtypeSizes[t.DType]))
		if hi != 0 || nbytes > math.MaxInt64 {
			return fail(t.Name, ErrSizeOverflow, "shape %v of %s", t.Shape, t.DType)
		}
		if uint64(t.End-t.Begin) != nbytes {
			return fail(t.Name, ErrSizeMismatch, "%s %v is %d bytes, data_offsets [%d, %d] hold %d", t.DType, t.Shape, nbytes, t.Begin, t.End, t.End-t.Begin)
		}
		if t.End > dataLen {
			return fail(t.Name, ErrOutOfFile, "data_offsets [%d, %d], data section of %d bytes", t.Begin, t.End, dataLen)
		}
	}
	slices.SortStableFunc(f.tensors, func(a, b TensorInfo) int {
		if a.Begin != b.Begin {
			return cmpInt64(a.Begin, b.Begin)
		}
		return cmpInt64(a.End, b.End)
	})
	for i, t := range f.tensors {
		f.index[t.Name] = i
	}
	var end int64
	for _, t := range f.tensors {
		if t.Begin > end {
			return fail(t.Name, ErrGap, "data starts at %d, the previous tensor ends at %d", t.Begin, end)
		}
		if t.Begin < end {
			return fail(t.Name, ErrOverlap, "data starts at %d, the previous tensor ends at %d", t.Begin, end)
		}
		end = t.End
	}
	if end != dataLen {
		return fail("", ErrTrailingBytes, "tensors end at %d, data section is %d bytes", end, dataLen)
	}
	return nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Close releases the file.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Tensors lists the header entries in data order.
func (f *File) Tensors() []TensorInfo { return slices.Clone(f.tensors) }

// Info returns the header entry of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.tensors[i], true
}

// Raw reads the named tensor's bytes (little-endian, as stored).
func (f *File) Raw(name string) ([]byte, error) {
	t, ok := f.Info(name)
	if !ok {
		return nil, &Error{Path: f.Path, Tensor: name, Err: ErrNoTensor}
	}
	buf := make([]byte, t.Size())
	if err := f.readAt(t, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func (f *File) readAt(t TensorInfo, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if err := readFull(f.r, buf, f.DataStart+t.Begin); err != nil {
		return &Error{Path: f.Path, Tensor: t.Name, Err: err}
	}
	return nil
}

// Tensor reads and decodes the named tensor: DType is the file's dtype
// (f32, bf16, f16 or f8e4m3) and F holds its exact values. An fp8 tensor
// comes without Scale; see Checkpoint.LoadParam for scaled weights.
func (f *File) Tensor(name string) (*runtime.Tensor, error) {
	t, ok := f.Info(name)
	if !ok {
		return nil, &Error{Path: f.Path, Tensor: name, Err: ErrNoTensor}
	}
	dt, ok := IRDType(t.DType)
	if !ok {
		return nil, &Error{Path: f.Path, Tensor: name, Err: ErrUnsupportedDType, Detail: t.DType}
	}
	out := &runtime.Tensor{DType: dt, Shape: slices.Clone(t.Shape), F: make([]float32, t.Numel())}
	if err := f.decodeInto(t, out.F); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeInto reads tensor t and writes its values, as float32, to dst
// (len(dst) == t.Numel()).
func (f *File) decodeInto(t TensorInfo, dst []float32) error {
	if _, ok := IRDType(t.DType); !ok {
		return &Error{Path: f.Path, Tensor: t.Name, Err: ErrUnsupportedDType, Detail: t.DType}
	}
	// Read in chunks so that a big tensor needs no second full-size buffer.
	const chunk = 1 << 22
	size := dtypeSizes[t.DType]
	buf := make([]byte, min(t.Size(), chunk))
	for off := int64(0); off < t.Size(); {
		n := min(t.Size()-off, chunk)
		b := buf[:n]
		part := TensorInfo{Name: t.Name, Begin: t.Begin + off, End: t.Begin + off + n}
		if err := f.readAt(part, b); err != nil {
			return err
		}
		decode(t.DType, b, dst[off/size:(off+n)/size])
		off += n
	}
	return nil
}

// decode converts little-endian values of a supported dtype to float32.
func decode(dtype string, b []byte, dst []float32) {
	switch dtype {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = bf16Value(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = f16Value(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case F8E4M3:
		for i := range dst {
			dst[i] = e4m3Value(b[i])
		}
	}
}

// encode converts float32 values to a supported dtype, rounding to nearest
// even (saturating for F8_E4M3), appending to b.
func encode(dtype string, src []float32, b []byte) []byte {
	switch dtype {
	case F32:
		for _, v := range src {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	case BF16:
		for _, v := range src {
			b = binary.LittleEndian.AppendUint16(b, bf16Bits(v))
		}
	case F16:
		for _, v := range src {
			b = binary.LittleEndian.AppendUint16(b, f16Bits(v))
		}
	case F8E4M3:
		for _, v := range src {
			b = append(b, e4m3Bits(v))
		}
	}
	return b
}
