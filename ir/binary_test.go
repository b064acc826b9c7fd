package ir

import (
	"strings"
	"testing"
)

// The binary form carries everything the text form does: decoding an
// encoded module prints as the module did (every op, attribute kind, loc,
// composite and param of the all-ops fixture).
func TestBinaryRoundTrip(t *testing.T) {
	m := allOpsModule(t)
	text := Print(m)
	b := Encode(m)
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if p := Print(got); p != text {
		t.Fatalf("decoded module prints differently:\n%s", p)
	}
	if err := Verify(got); err != nil {
		t.Fatal(err)
	}
	if len(b) >= len(text) {
		t.Errorf("binary form %d bytes, text %d: not compact", len(b), len(text))
	}
	t.Logf("all ops: text %d bytes, binary %d", len(text), len(b))
}

// Every truncation and a sample of corruptions of a valid encoding fail
// with an error (or decode to something), never a panic or a huge
// allocation.
func TestBinaryHostileInput(t *testing.T) {
	b := Encode(allOpsModule(t))
	for i := 0; i < len(b); i++ {
		if _, err := Decode(b[:i]); err == nil {
			t.Fatalf("a truncation to %d of %d bytes decoded", i, len(b))
		}
	}
	for i := len(binaryMagic); i < len(b); i += 7 {
		for _, v := range []byte{0, 0x7f, 0xff} {
			c := append([]byte(nil), b...)
			c[i] = v
			if m, err := Decode(c); err == nil {
				Verify(m) // may fail; must not panic
				Print(m)
			}
		}
	}
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{[]byte("nope"), "bad magic"},
		{append([]byte(binaryMagic), 0, 0xff, 0xff, 0xff, 0xff, 0x0f), "a count of"},
		{append(Encode(&Module{Name: "m"}), 1), "bytes after the module"},
	} {
		if _, err := Decode(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}
