package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// writeTinyTokenizer writes a byte-level BPE tokenizer.json: the 256 byte
// tokens (GPT-2's byte-to-character table), merges spelling "hello" (id 259)
// and " world" (id 264), and the added tokens <s> (300) and </s> (301).
func writeTinyTokenizer(t *testing.T) string {
	t.Helper()
	byteRune := func(b int) rune {
		switch {
		case '!' <= b && b <= '~', 0xA1 <= b && b <= 0xAC, 0xAE <= b && b <= 0xFF:
			return rune(b)
		}
		n := 0
		for c := 0; c < b; c++ {
			if !('!' <= c && c <= '~' || 0xA1 <= c && c <= 0xAC || 0xAE <= c && c <= 0xFF) {
				n++
			}
		}
		return rune(256 + n)
	}
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[string(byteRune(b))] = b
	}
	merges := []string{"h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"}
	for i, m := range merges {
		vocab[strings.ReplaceAll(m, " ", "")] = 256 + i
	}
	f := map[string]any{
		"added_tokens": []any{
			map[string]any{"id": 300, "content": "<s>", "special": true},
			map[string]any{"id": 301, "content": "</s>", "special": true},
		},
		"normalizer":    nil,
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
		"decoder":       map[string]any{"type": "ByteLevel"},
		"model":         map[string]any{"type": "BPE", "vocab": vocab, "merges": merges},
	}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCmd executes a command built by its constructor with stdin, and returns
// stdout and the error.
func runCmd(t *testing.T, newCmd func(stdin *strings.Reader) *cobra.Command, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newCmd(strings.NewReader(stdin))
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.Execute()
	return out.String(), err
}

func tokenizeCmd(stdin *strings.Reader) *cobra.Command   { return newTokenizeCmd(stdin) }
func detokenizeCmd(stdin *strings.Reader) *cobra.Command { return newDetokenizeCmd(stdin) }

func TestTokenize(t *testing.T) {
	tj := writeTinyTokenizer(t)
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"text", "", []string{"--tokenizer", tj, "hello world"}, "259 264\n"},
		{"json", "", []string{"--tokenizer", tj, "--json", "hello world"}, "[259,264]\n"},
		{"bos eos", "", []string{"--tokenizer", tj, "--bos", "--eos", "hello"}, "300 259 301\n"},
		{"added tokens in text", "", []string{"--tokenizer", tj, "<s>hello</s>"}, "300 259 301\n"},
		{"stdin dash", "hello world\n", []string{"--tokenizer", tj, "-"}, "259 264 10\n"},
		{"stdin implicit", "hello", []string{"--tokenizer", tj}, "259\n"},
		{"directory", "", []string{"--tokenizer", filepath.Dir(tj), "hello"}, "259\n"},
		{"empty json", "", []string{"--tokenizer", tj, "--json", ""}, "[]\n"},
		{"empty", "", []string{"--tokenizer", tj, ""}, "\n"},
		{"count", "", []string{"--tokenizer", tj, "--count", "hello world"}, "2\n"},
		{"byte", "", []string{"--tokenizer", "byte", "hé"}, "104 195 169\n"},
		{"byte bos", "", []string{"--tokenizer", "byte:512", "--bos", "--json", "a"}, "[256,97]\n"},
	} {
		got, err := runCmd(t, tokenizeCmd, c.stdin, c.args...)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: tokenize %q printed %q, want %q", c.name, c.args, got, c.want)
		}
	}
}

func TestDetokenize(t *testing.T) {
	tj := writeTinyTokenizer(t)
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"args", "", []string{"--tokenizer", tj, "259", "264"}, "hello world"},
		{"one arg with spaces", "", []string{"--tokenizer", tj, "259 264"}, "hello world"},
		{"commas", "", []string{"--tokenizer", tj, "259,264"}, "hello world"},
		{"json", "", []string{"--tokenizer", tj, "[300, 259, 264, 301]"}, "<s>hello world</s>"},
		{"skip special", "", []string{"--tokenizer", tj, "--skip-special", "300", "259", "301"}, "hello"},
		{"stdin", "300 259\n264\n", []string{"--tokenizer", tj, "-"}, "<s>hello world"},
		{"stdin json", "[259,264]\n", []string{"--tokenizer", tj}, "hello world"},
		{"nothing", "", []string{"--tokenizer", tj}, ""},
		{"byte", "", []string{"--tokenizer", "byte", "--skip-special", "256", "104", "195", "169", "257"}, "hé"},
		{"byte specials", "", []string{"--tokenizer", "byte", "256", "104", "257"}, "<bos>h<eos>"},
	} {
		got, err := runCmd(t, detokenizeCmd, c.stdin, c.args...)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: detokenize %q printed %q, want %q", c.name, c.args, got, c.want)
		}
	}
}

// tokenize --json piped into detokenize gives the text back byte for byte.
func TestTokenizeRoundTrip(t *testing.T) {
	tj := writeTinyTokenizer(t)
	text := "hello world\n\tcafé ☕ <s>\r\n  12345  \n"
	for _, spec := range []string{tj, "byte"} {
		for _, asJSON := range []bool{false, true} {
			args := []string{"--tokenizer", spec, "-"}
			if asJSON {
				args = append(args, "--json")
			}
			ids, err := runCmd(t, tokenizeCmd, text, args...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := runCmd(t, detokenizeCmd, ids, "--tokenizer", spec, "-")
			if err != nil {
				t.Fatal(err)
			}
			if got != text {
				t.Errorf("%s json=%v: round trip gave %q, want %q", spec, asJSON, got, text)
			}
		}
	}
}

func TestTokenizeErrors(t *testing.T) {
	tj := writeTinyTokenizer(t)
	for _, c := range []struct {
		name string
		cmd  func(*strings.Reader) *cobra.Command
		args []string
		want string
	}{
		{"no tokenizer", tokenizeCmd, []string{"hello"}, "--tokenizer is required"},
		{"missing file", tokenizeCmd, []string{"--tokenizer", filepath.Join(t.TempDir(), "nope.json"), "x"}, "no such file"},
		{"bad byte size", tokenizeCmd, []string{"--tokenizer", "byte:10", "x"}, "at least 258"},
		{"two texts", tokenizeCmd, []string{"--tokenizer", tj, "a", "b"}, "accepts at most 1 arg"},
		{"detok no tokenizer", detokenizeCmd, []string{"1"}, "--tokenizer is required"},
		{"unknown id", detokenizeCmd, []string{"--tokenizer", tj, "259", "280"}, "unknown token id 280"},
		{"negative id", detokenizeCmd, []string{"--tokenizer", "byte", "[-5]"}, "unknown token id -5"},
		{"not an id", detokenizeCmd, []string{"--tokenizer", tj, "12", "x3"}, `"x3" is not an integer`},
		{"bad json", detokenizeCmd, []string{"--tokenizer", tj, "[1, 2"}, "not a JSON array"},
		{"byte out of range", detokenizeCmd, []string{"--tokenizer", "byte", "258"}, "unknown token id 258"},
	} {
		_, err := runCmd(t, c.cmd, "", c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestTokenizeHelp(t *testing.T) {
	for _, newCmd := range []func(*strings.Reader) *cobra.Command{tokenizeCmd, detokenizeCmd} {
		out, err := runCmd(t, newCmd, "", "--help")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Examples:", "--tokenizer", "byte"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s --help lacks %q", newCmd(nil).Name(), want)
			}
		}
	}
}
