package npy

import (
	"bytes"
	"os/exec"
	"slices"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{3}, {2, 3}, {2, 1, 4}, {0, 5}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i)*0.5 - 1
		}
		var buf bytes.Buffer
		if err := WriteFloat32(&buf, shape, data); err != nil {
			t.Fatal(err)
		}
		if buf.Len()-4*n != 128 && buf.Len()-4*n != 64 {
			t.Errorf("header is %d bytes, want a multiple of 64", buf.Len()-4*n)
		}
		gotShape, got, err := ReadFloat32(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(gotShape, shape) || !slices.Equal(got, data) {
			t.Errorf("round trip of %v gave %v %v", shape, gotShape, got)
		}
	}
}

// NumPy itself reads what we write.
func TestNumPyReads(t *testing.T) {
	// Debian's python3 with python3-numpy; scripts/deps.sh (run by make
	// test) installs it.
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Fatalf("NumPy is missing (run scripts/deps.sh): %v\n%s", err, out)
	}
	var buf bytes.Buffer
	if err := WriteFloat32(&buf, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6.5}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", "import sys, io, numpy as np; a = np.load(io.BytesIO(sys.stdin.buffer.read())); print(a.shape, a.dtype, a[1, 2])")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	if string(out) != "(2, 3) float32 6.5\n" {
		t.Errorf("numpy read %q", out)
	}
}
