// Package npy writes and reads NumPy .npy files (format version 1.0,
// little-endian float32, C order): the interchange format of deepc forward's
// logits.
package npy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

var magic = []byte("\x93NUMPY\x01\x00")

// WriteFloat32 writes data with the given shape.
func WriteFloat32(w io.Writer, shape []int, data []float32) error {
	n := 1
	dims := make([]string, len(shape))
	for i, d := range shape {
		if d < 0 {
			return fmt.Errorf("npy: negative dim %d", d)
		}
		n *= d
		dims[i] = strconv.Itoa(d)
	}
	if n != len(data) {
		return fmt.Errorf("npy: shape %v holds %d values, got %d", shape, n, len(data))
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", tuple)
	// Pad with spaces so that magic + 2-byte length + header + '\n' is a
	// multiple of 64, as NumPy writes it.
	total := len(magic) + 2 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	bw := bufio.NewWriter(w)
	bw.Write(magic)
	binary.Write(bw, binary.LittleEndian, uint16(len(header)))
	bw.WriteString(header)
	buf := make([]byte, 4)
	for _, v := range data {
		binary.LittleEndian.PutUint32(buf, math.Float32bits(v))
		bw.Write(buf)
	}
	return bw.Flush()
}

var shapeRE = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)

// ReadFloat32 reads a little-endian float32 .npy file in C order.
func ReadFloat32(r io.Reader) (shape []int, data []float32, err error) {
	head := make([]byte, len(magic)+2)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, nil, fmt.Errorf("npy: %w", err)
	}
	if string(head[:6]) != string(magic[:6]) || head[6] != 1 {
		return nil, nil, errors.New("npy: not a version 1 .npy file")
	}
	hl := binary.LittleEndian.Uint16(head[8:])
	h := make([]byte, hl)
	if _, err := io.ReadFull(r, h); err != nil {
		return nil, nil, fmt.Errorf("npy: header: %w", err)
	}
	hs := string(h)
	if !strings.Contains(hs, "'descr': '<f4'") || !strings.Contains(hs, "'fortran_order': False") {
		return nil, nil, fmt.Errorf("npy: want little-endian float32 in C order, header %q", hs)
	}
	m := shapeRE.FindStringSubmatch(hs)
	if m == nil {
		return nil, nil, fmt.Errorf("npy: no shape in header %q", hs)
	}
	n := 1
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 {
			return nil, nil, fmt.Errorf("npy: bad dim %q", f)
		}
		shape = append(shape, d)
		n *= d
	}
	raw := make([]byte, 4*n)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, nil, fmt.Errorf("npy: data: %w", err)
	}
	data = make([]float32, n)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return shape, data, nil
}
