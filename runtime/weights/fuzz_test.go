package weights

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the reader: it must never panic or
// allocate beyond the file's size, and whatever it accepts must be
// consistent: tensors tile the data section, and every tensor of a
// supported dtype decodes to numel values. The seed corpus is in
// testdata/fuzz/FuzzParse (valid files of every dtype and each malformed
// case); run `go test -fuzz FuzzParse ./runtime/weights` to explore.
func FuzzParse(f *testing.F) {
	for _, c := range malformed {
		f.Add(c.file)
	}
	if data, err := Encode(sampleTensors()); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := Parse("fuzz", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		var end int64
		for _, ti := range sf.Tensors() {
			if ti.Begin != end {
				t.Fatalf("accepted tensor %q at %d, previous ends at %d", ti.Name, ti.Begin, end)
			}
			end = ti.End
			raw, err := sf.Raw(ti.Name)
			if err != nil || int64(len(raw)) != ti.Size() {
				t.Fatalf("raw %q: %d bytes, %v", ti.Name, len(raw), err)
			}
			if _, ok := IRDType(ti.DType); !ok {
				continue
			}
			tt, err := sf.Tensor(ti.Name)
			if err != nil || int64(len(tt.F)) != ti.Numel() {
				t.Fatalf("tensor %q: %v", ti.Name, err)
			}
		}
		if end != sf.Size-sf.DataStart {
			t.Fatalf("tensors end at %d of %d", end, sf.Size-sf.DataStart)
		}
	})
}
