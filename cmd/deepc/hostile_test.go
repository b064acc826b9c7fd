package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// The examples of issue 15 ("reliability under hostile input"), as one
// table: each must end within 10 s with exit 1 and a message naming the
// input (or, where the right answer is to work, exit 0), and nothing the
// user owns may change. Training flags are in TestTrainRefusesBadSettings,
// run's counts in TestRunRefusesNegativeCounts.
func TestHostileInputs(t *testing.T) {
	f := newHostileFixtures(t)
	for _, c := range f.cases() {
		t.Run(c.surface+"/"+c.name, func(t *testing.T) {
			args := c.args()
			type result struct {
				code        int
				out, errOut string
			}
			done := make(chan result, 1)
			var before goruntime.MemStats
			goruntime.ReadMemStats(&before)
			start := time.Now()
			go func() {
				code, out, errOut := deepc(t, args...)
				done <- result{code, out, errOut}
			}()
			select {
			case r := <-done:
				if r.code != c.code || !strings.Contains(r.errOut, c.want) {
					t.Errorf("deepc %s: exit %d (want %d), stderr %q (want %q)", strings.Join(clip(args), " "), r.code, c.code, r.errOut, c.want)
				}
				if c.code == 1 && c.ok != "" && strings.Contains(r.out+r.errOut, c.ok) {
					t.Errorf("deepc %s: says %q although it failed", strings.Join(clip(args), " "), c.ok)
				}
				for _, secret := range []string{"root:x:0:0", "root:*:0:0"} {
					if strings.Contains(r.out+r.errOut, secret) {
						t.Errorf("deepc %s printed /etc/passwd's content", strings.Join(clip(args), " "))
					}
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("deepc %s did not end within 10 s", strings.Join(clip(args), " "))
			}
			// The table test is not parallel, so what the process allocated
			// meanwhile is this command's: a hostile input must not buy
			// more than the tiny model's own work needs.
			var after goruntime.MemStats
			goruntime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			if alloc > maxHostileAlloc {
				t.Errorf("deepc %s allocated %d MB, more than %d MB", strings.Join(clip(args), " "), alloc>>20, maxHostileAlloc>>20)
			}
			t.Logf("%.2f s, %d MB allocated", time.Since(start).Seconds(), alloc>>20)
			if c.after != nil {
				c.after(t)
			}
		})
	}
}

// maxHostileAlloc bounds what one hostile command may allocate in all.
const maxHostileAlloc = 512 << 20

// clip shortens long arguments (a megabyte of DSL) for messages.
func clip(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if len(a) > 80 {
			a = a[:80] + "…"
		}
		out[i] = a
	}
	return out
}

type hostileCase struct {
	surface, name string
	args          func() []string
	code          int
	want          string           // in stderr
	ok            string           // must not be printed when the command fails
	after         func(*testing.T) // what must hold afterwards
}

// hostileFixtures are the files the cases use, made once.
type hostileFixtures struct {
	t       *testing.T
	dir     string
	ckpt    string // the tiny model's random checkpoint
	tok     string // a good tokenizer.json
	trained string // a training checkpoint (one step)
}

func newHostileFixtures(t *testing.T) *hostileFixtures {
	f := &hostileFixtures{t: t, dir: t.TempDir()}
	f.ckpt = writeCheckpoint(t, nil, "fp8", 1, 3)
	f.tok = writeTinyTokenizer(t)
	os.MkdirAll(f.path("out"), 0o755)
	mustDeepc(t, trainArgs(f.path("runs/trained"), 1)...)
	f.trained = f.path("runs/trained/step-000001")
	return f
}

// editState copies the training checkpoint and edits its state: the
// state.json object, and the tensors of state.safetensors (whose hash
// is then recomputed, as an attacker would).
func (f *hostileFixtures) editState(name string, editJSON func(map[string]any), editTensors func([]weights.NamedTensor) []weights.NamedTensor) string {
	dir := f.path("resume/" + name)
	if err := os.CopyFS(dir, os.DirFS(f.trained)); err != nil {
		f.t.Fatal(err)
	}
	var st map[string]any
	raw, _ := os.ReadFile(filepath.Join(dir, "train", "state.json"))
	json.Unmarshal(raw, &st)
	if editTensors != nil {
		sf, err := weights.Open(filepath.Join(dir, "train", "state.safetensors"))
		if err != nil {
			f.t.Fatal(err)
		}
		var ts []weights.NamedTensor
		for _, info := range sf.Tensors() {
			x, _ := sf.Tensor(info.Name)
			ts = append(ts, weights.NamedTensor{Name: info.Name, T: x})
		}
		sf.Close()
		b, err := weights.Encode(editTensors(ts))
		if err != nil {
			f.t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "train", "state.safetensors"), b, 0o644)
		sum := sha256.Sum256(b)
		st["sha256"].(map[string]any)["train/state.safetensors"] = hex.EncodeToString(sum[:])
	}
	if editJSON != nil {
		editJSON(st)
	}
	raw, _ = json.Marshal(st)
	os.WriteFile(filepath.Join(dir, "train", "state.json"), raw, 0o644)
	return dir
}

func (f *hostileFixtures) path(name string) string { return filepath.Join(f.dir, name) }

func (f *hostileFixtures) write(name, content string) string {
	p := f.path(name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *hostileFixtures) fifo(name string) string {
	p := f.path(name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// copyCkpt is a copy of the tiny checkpoint with edit applied to it.
func (f *hostileFixtures) copyCkpt(name string, edit func(dir string)) string {
	dir := f.path(name)
	if err := os.CopyFS(dir, os.DirFS(f.ckpt)); err != nil {
		f.t.Fatal(err)
	}
	edit(dir)
	return dir
}

// editConfig replaces old with new in a checkpoint's config.json.
func editConfig(old, new string) func(dir string) {
	return func(dir string) {
		p := filepath.Join(dir, "config.json")
		b, _ := os.ReadFile(p)
		if !strings.Contains(string(b), old) {
			panic("config.json has no " + old)
		}
		os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
	}
}

// tokenizer writes a tokenizer.json: the good one with edit applied to
// its decoded JSON.
func (f *hostileFixtures) tokenizer(name string, edit func(map[string]any)) string {
	b, _ := os.ReadFile(f.tok)
	var j map[string]any
	json.Unmarshal(b, &j)
	edit(j)
	b, _ = json.Marshal(j)
	return f.write(name+"/tokenizer.json", string(b))
}

func vocabID(id any) func(map[string]any) {
	return func(j map[string]any) { j["model"].(map[string]any)["vocab"].(map[string]any)["zz"] = id }
}

// unchanged checks that path still holds content.
func unchanged(path, content string) func(*testing.T) {
	return func(t *testing.T) {
		if b, err := os.ReadFile(path); err != nil || string(b) != content {
			t.Errorf("%s now holds %q (%v), want %q: a user's file was changed", path, b, err, content)
		}
	}
}

func (f *hostileFixtures) cases() []hostileCase {
	tiny := tinyModel
	userFile := f.write("user/f.txt", "user data")
	userDir := f.path("user/dir")
	f.write("user/dir/notes.txt", "mine")
	deep := func(name, src string) string { return f.write("dsl/"+name, src) }
	nested := deep("nested.deep", "model m\nconfig {\n  x = "+strings.Repeat("(", 100000)+"1"+strings.Repeat(")", 100000)+"\n}\n")
	literal := deep("literal.deep", "model m\nconfig {\n  x = \""+strings.Repeat("a\\\"", 1<<19)+"\"\n}\n")
	passwd := deep("a/b/c/d/passwd.deep", "model m extends \"../../../../../../../../../../etc/passwd\"\n")
	absDeep := deep("abs.deep", fmt.Sprintf("model m extends %q\n", "/etc/passwd"))
	fifoDeep := f.fifo("dsl/fifo.deep")
	bundleDir := f.path("bundle/b")
	os.MkdirAll(filepath.Dir(bundleDir), 0o755)
	writeBundle := func(dir, graphs, kernels string) string {
		m := &bundle.Manifest{Compiler: "deepc test", Target: "sm_90a", Graphs: map[string]json.RawMessage{"forward": json.RawMessage(graphs)}, Kernels: json.RawMessage(kernels)}
		if err := bundle.Write(dir, m, map[string][]byte{"ir/module.ir": []byte("x")}, false); err != nil {
			f.t.Fatal(err)
		}
		return dir
	}
	writeBundle(bundleDir, `[]`, `[]`)
	outsideKernel := writeBundle(f.path("bundle/outside-kernel"), `[]`, `[{"name": "k", "ptx": "../../../../etc/passwd"}]`)
	missingKernel := writeBundle(f.path("bundle/missing-kernel"), `[{"kernel": "nope"}]`, `[]`)
	linkBundle := f.path("bundle/link")
	os.CopyFS(linkBundle, os.DirFS(bundleDir))
	os.Remove(filepath.Join(linkBundle, "ir/module.ir"))
	os.Symlink("/etc/passwd", filepath.Join(linkBundle, "ir/module.ir"))
	fifoBundle := f.path("bundle/fifo")
	os.CopyFS(fifoBundle, os.DirFS(bundleDir))
	os.Remove(filepath.Join(fifoBundle, "manifest.json"))
	syscall.Mkfifo(filepath.Join(fifoBundle, "manifest.json"), 0o600)
	runDir := f.path("runs/other")
	f.write("runs/other/run.json", "{}")
	f.write("runs/other/latest", "step-000002\n")
	metrics := f.path("runs/plot")
	f.write("runs/plot/metrics.jsonl", `{"step":1,"loss":1e308,"lr":-1e308,"grad_norm":1.7976931348623157e308}`+"\n"+`{"step":2,"loss":-1e308,"lr":1e308,"grad_norm":0}`+"\n")
	corrupt := f.copyCkpt("ck/corrupt", func(dir string) {
		os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("\xff\xff\xff\xff\xff\xff\xff\x7fjunk"), 0o644)
	})
	forward := func(ck string, extra ...string) func() []string {
		return func() []string {
			return append([]string{"forward", tiny, "--checkpoint", ck, "--tokens", "1 2 3", "--out", f.path("out/logits.npy")}, extra...)
		}
	}
	generate := func(extra ...string) func() []string {
		return func() []string {
			return append([]string{"generate", tiny, "--checkpoint", f.ckpt, "--prompt", "hi"}, extra...)
		}
	}
	static := func(args ...string) func() []string { return func() []string { return args } }
	resume := func(ck string) func() []string {
		return func() []string {
			return []string{"train", "--resume", ck, "--out", f.path("resumed/" + filepath.Base(ck))}
		}
	}
	settings := func(key string, v any) func(map[string]any) {
		return func(st map[string]any) { st["settings"].(map[string]any)[key] = v }
	}
	long := strings.Repeat("a", 40)
	return []hostileCase{
		// Outputs never destroy what they did not make.
		{"output", "compile -o over a user's file", static("compile", tiny, "--target", "sm_90a", "-o", userFile), 1, "not a directory", "", unchanged(userFile, "user data")},
		{"output", "compile -o over a user's directory", static("compile", tiny, "--target", "sm_90a", "-o", userDir), 1, "not a bundle deepc wrote", "", unchanged(filepath.Join(userDir, "notes.txt"), "mine")},
		// Refused before the input is even read (it does not exist here).
		{"output", "opt -o a device", static("opt", "/nonexistent.ir", "-o", "/dev/null"), 1, "/dev/null is a device", "", nil},
		{"output", "compile --emit ir -o over a user's file", static("compile", tiny, "--emit", "ir", "-o", userFile), 1, "is not a deepc IR text", "", unchanged(userFile, "user data")},
		{"output", "forward --out over a checkpoint's weights", func() []string {
			ck := f.copyCkpt("ck/out-victim", func(string) {})
			return []string{"forward", tiny, "--checkpoint", f.ckpt, "--tokens", "1 2", "--out", filepath.Join(ck, "model.safetensors")}
		}, 1, "is not a NumPy .npy file", "", nil},
		{"output", "forward --out through a link", func() []string {
			link := f.path("user/link.npy")
			os.Symlink(userFile, link)
			return []string{"forward", tiny, "--checkpoint", f.ckpt, "--tokens", "1 2", "--out", link}
		}, 1, "is a link", "", unchanged(userFile, "user data")},
		{"output", "plot's loss.png a link", func() []string {
			dir := f.path("runs/plot-link")
			f.write("runs/plot-link/metrics.jsonl", `{"step":1,"loss":1}`+"\n")
			os.Symlink(userFile, filepath.Join(dir, "loss.png"))
			return []string{"plot", dir}
		}, 1, "is a link", "", unchanged(userFile, "user data")},
		{"output", "train into a run dir holding links", func() []string {
			dir := f.path("runs/linked")
			f.write("runs/linked/run.json", "{}")
			os.Symlink(userFile, filepath.Join(dir, "metrics.jsonl"))
			return []string{"train", tiny, "--steps", "1", "--out", dir}
		}, 1, "holds links", "", unchanged(userFile, "user data")},
		{"output", "init over a user's directory", static("init", tiny, "--out", userDir), 1, "holds files", "", unchanged(filepath.Join(userDir, "notes.txt"), "mine")},
		{"output", "train over another run", static("train", tiny, "--steps", "1", "--out", runDir), 1, "holds another run", "", unchanged(filepath.Join(runDir, "latest"), "step-000002\n")},
		{"output", "train over a user's directory", static("train", tiny, "--steps", "1", "--out", userDir), 1, "no deepc run", "", unchanged(filepath.Join(userDir, "notes.txt"), "mine")},
		// Flags: sizes, ranges, NaN.
		{"flags", "generate --max-tokens 2^63-1", generate("--max-tokens", "9223372036854775807"), 1, "9223372036854775807 are to be generated", "", nil},
		{"flags", "generate --max-tokens 1e8", generate("--max-tokens", "100000000"), 1, "positions", "", nil},
		{"flags", "generate --temperature NaN", generate("--temperature", "NaN"), 1, "temperature NaN", "", nil},
		{"flags", "generate --top-p NaN", generate("--top-p", "NaN"), 1, "top-p NaN", "", nil},
		{"flags", "forward --moe-block 1e9", forward(f.ckpt, "--moe-block", "1000000000"), 1, "moe-block", "", nil},
		{"flags", "forward --moe-block 2^63-1", forward(f.ckpt, "--moe-block", "9223372036854775807"), 1, "moe-block", "", nil},
		{"flags", "forward --tokens @/dev/zero", func() []string {
			return []string{"forward", tiny, "--checkpoint", f.ckpt, "--tokens", "@/dev/zero", "--out", f.path("out/l.npy")}
		}, 1, "/dev/zero", "", nil},
		{"flags", "--max-memory nonsense", forward(f.ckpt, "--max-memory", "lots"), 1, "--max-memory", "", nil},
		{"flags", "forward over --max-memory", forward(f.ckpt, "--max-memory", "1MiB"), 1, "memory budget of 1.0 MiB (--max-memory)", "", nil},
		{"flags", "kernels --bind T=2^62", static("kernels", bundleDir, "--bind", "T=4611686018427387904"), 1, "--bind T=4611686018427387904", "", nil},
		{"flags", "stats --seq-len 1e11", static("stats", tiny, "--seq-len", "100000000000"), 1, "--seq-len 100000000000", "", nil},
		{"flags", "init --shards 100000", static("init", tiny, "--out", f.path("out/shards"), "--shards", "100000"), 1, "--shards 100000", "", nil},
		{"flags", "kernels --bind twice", static("kernels", bundleDir, "--bind", "T=4096,T=5"), 1, "bound twice", "", nil},
		{"flags", "forward --prefill past the positions", func() []string {
			long := strings.TrimSpace(strings.Repeat("1 ", 1100))
			return []string{"forward", tiny, "--checkpoint", f.ckpt, "--tokens", long, "--prefill", "1090", "--out", f.path("out/long.npy")}
		}, 1, "more than the model's 1024 positions", "", nil},
		{"flags", "stats --set n_layers=2**62", static("stats", tiny, "--set", "n_layers=2**62"), 1, "n_layers", "", nil},
		{"flags", "stats --set mtp_depth=1000000", static("stats", tiny, "--set", "mtp_depth=1000000"), 1, "mtp_depth", "", nil},
		// config.json values that load and give NaN logits.
		{"config", "rope_theta 0", forward(f.copyCkpt("ck/theta0", editConfig(`"rope_theta": 10000`, `"rope_theta": 0`))), 1, "rope_theta is 0", "", nil},
		{"config", "rope_theta -1", forward(f.copyCkpt("ck/theta-1", editConfig(`"rope_theta": 10000`, `"rope_theta": -1`))), 1, "rope_theta is -1", "", nil},
		{"config", "rms_norm_eps -1", forward(f.copyCkpt("ck/eps", editConfig(`"rms_norm_eps": 0.000001`, `"rms_norm_eps": -1`))), 1, "rms_norm_eps is -1", "", nil},
		{"config", "top-k above experts", forward(f.copyCkpt("ck/topk", editConfig(`"num_experts_per_tok": 4`, `"num_experts_per_tok": 99`))), 1, "num_experts_per_tok 99 is more than", "", nil},
		{"config", "config.json a FIFO", forward(f.copyCkpt("ck/fifo-config", func(dir string) {
			os.Remove(filepath.Join(dir, "config.json"))
			syscall.Mkfifo(filepath.Join(dir, "config.json"), 0o600)
		})), 1, "FIFO", "", nil},
		// Checkpoints.
		{"checkpoint", "model.safetensors a FIFO", forward(f.copyCkpt("ck/fifo-model", func(dir string) {
			os.Remove(filepath.Join(dir, "model.safetensors"))
			syscall.Mkfifo(filepath.Join(dir, "model.safetensors"), 0o600)
		})), 1, "FIFO", "", nil},
		{"checkpoint", "model.safetensors a link outside", forward(f.copyCkpt("ck/link-model", func(dir string) {
			os.Remove(filepath.Join(dir, "model.safetensors"))
			os.Symlink("/etc/passwd", filepath.Join(dir, "model.safetensors"))
		})), 1, "link", "", nil},
		{"checkpoint", "a hub snapshot linking outside its blobs", forward(func() string {
			snap := f.copyCkpt("hub/models--x--y/snapshots/rev", func(string) {})
			os.MkdirAll(f.path("hub/models--x--y/blobs"), 0o755)
			os.Remove(filepath.Join(snap, "config.json"))
			os.Symlink("../../secret.json", filepath.Join(snap, "config.json"))
			f.write("hub/models--x--y/secret.json", `{"hidden_size": "TOP-SECRET"}`)
			return snap
		}()), 1, "outside the model's hub blobs folder", "TOP-SECRET", nil},
		{"checkpoint", "inspect a corrupt safetensors", static("inspect", tiny, "--checkpoint", corrupt), 1, "model.safetensors", "OK", nil},
		{"checkpoint", "NaN weights warn", forward(f.copyCkpt("ck/nan", func(dir string) {
			p := filepath.Join(dir, "model.safetensors")
			sf, err := weights.Open(p)
			if err != nil {
				panic(err)
			}
			info, _ := sf.Info("model.norm.weight") // every logit depends on it
			start := sf.DataStart
			sf.Close()
			b, _ := os.ReadFile(p)
			for i := start + info.Begin; i < start+info.End; i++ {
				b[i] = 0xff // NaN in fp8 e4m3, f32 and bf16 alike
			}
			os.WriteFile(p, b, 0o644)
		})), 0, "not finite", "", nil},
		// The DSL.
		{"dsl", "nested 100,000 deep", static("stats", nested), 1, "nest", "", nil},
		{"dsl", "a 1 MB string literal (compiles, in linear time)", static("stats", literal), 0, "", "", nil},
		{"dsl", "extends ../../etc/passwd", static("stats", passwd), 1, "passwd", "", nil},
		{"dsl", "extends /etc/passwd", static("stats", absDeep), 1, "/etc/passwd", "", nil},
		{"dsl", "a FIFO as model file", static("stats", fifoDeep), 1, "FIFO", "", nil},
		// Tokenizers.
		{"tokenizer", "vocab id 2e9", static("tokenize", "--tokenizer", f.tokenizer("tok/2e9", vocabID(2000000000)), "hello"), 1, "2000000000", "", nil},
		{"tokenizer", "vocab id 2^63-1", static("tokenize", "--tokenizer", f.tokenizer("tok/max", vocabID(json.Number("9223372036854775807"))), "hello"), 1, "tokenizer", "", nil},
		{"tokenizer", "catastrophic split pattern", static("tokenize", "--tokenizer", f.tokenizer("tok/redos", func(j map[string]any) {
			j["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "(?:a+)+b"}, "behavior": "Isolated", "invert": false},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false},
			}}
		}), long), 1, "(?:a+)+b", "", nil},
		{"tokenizer", "a pattern quadratic in the text", static("tokenize", "--tokenizer", f.tokenizer("tok/quadratic", func(j map[string]any) {
			j["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "a+b"}, "behavior": "Isolated", "invert": false},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false},
			}}
		}), strings.Repeat("a", 100000)), 1, "a+b", "", nil},
		{"tokenizer", "a 1 MB added token", static("tokenize", "--tokenizer", f.tokenizer("tok/long-added", func(j map[string]any) {
			j["added_tokens"] = append(j["added_tokens"].([]any), map[string]any{"id": 302, "content": strings.Repeat("h", 1<<20), "special": true})
		}), "hello"), 1, "an added token may hold at most 1024", "", nil},
		{"tokenizer", "tokenizer_config.json a link outside", static("tokenize", "--tokenizer", func() string {
			dir := filepath.Dir(f.tokenizer("tok/cfg-link", func(map[string]any) {}))
			os.Symlink(f.write("outside/secret.json", `{"bos_token": "TOP-SECRET"}`), filepath.Join(dir, "tokenizer_config.json"))
			return dir
		}(), "hello"), 1, "link", "TOP-SECRET", nil},
		{"tokenizer", "tokenizer.json a FIFO", static("tokenize", "--tokenizer", f.fifo("tok/fifo/tokenizer.json"), "hello"), 1, "FIFO", "", nil},
		// Bundles.
		{"bundle", "a file linked outside", static("bundle", "verify", linkBundle), 1, "not a regular file", "", nil},
		{"bundle", "a kernel naming a file outside", static("bundle", "verify", outsideKernel), 1, "does not list", "", nil},
		{"bundle", "a launch of a kernel it does not have", static("bundle", "verify", missingKernel), 1, `kernel "nope"`, "", nil},
		{"bundle", "manifest.json a FIFO", static("bundle", "verify", fifoBundle), 1, "FIFO", "", nil},
		// Resume state (the hashes recomputed where the edit needs it).
		{"resume", "an optimizer moment missing", resume(f.editState("no-moment", nil, func(ts []weights.NamedTensor) []weights.NamedTensor {
			return slices.DeleteFunc(ts, func(n weights.NamedTensor) bool {
				return strings.HasPrefix(n.Name, "optim.m.model.layers.1.")
			})
		})), 1, "lacks optim.", "", nil},
		{"resume", "a tensor of the wrong shape", resume(f.editState("shape", nil, func(ts []weights.NamedTensor) []weights.NamedTensor {
			ts[0].T.Shape, ts[0].T.F = []int{1}, ts[0].T.F[:1]
			return ts
		})), 1, "has shape [1]", "", nil},
		{"resume", "a cursor beyond the corpus", resume(f.editState("cursor", func(st map[string]any) {
			st["cursor"] = map[string]any{"file": 1000000}
		}, nil)), 1, "data cursor", "", nil},
		{"resume", "hashes naming /etc/passwd", resume(f.editState("passwd", func(st map[string]any) {
			st["sha256"].(map[string]any)["../../../../../../etc/passwd"] = "00"
		}, nil)), 1, "not a checkpoint file", "", nil},
		{"resume", "hashes naming /dev/zero", resume(f.editState("zero", func(st map[string]any) {
			st["sha256"].(map[string]any)["/dev/zero"] = "00"
		}, nil)), 1, "not a checkpoint file", "", nil},
		{"resume", "--steps before the checkpoint", func() []string {
			return []string{"train", "--resume", f.trained, "--steps", "0", "--out", f.path("resumed/steps0")}
		}, 1, "must not be before it", "", nil},
		{"resume", "a negative step", resume(f.editState("neg-step", func(st map[string]any) { st["step"] = -1 }, nil)), 1, "at step -1", "", nil},
		{"resume", "a step past the run", resume(f.editState("huge-step", func(st map[string]any) { st["step"] = 1e15 }, nil)), 1, "must not be before it", "", nil},
		{"resume", "settings naming data outside, overridden by --data", func() []string {
			ck := f.editState("data", settings("data", "/etc/*"), nil)
			return []string{"train", "--resume", ck, "--data", testCorpus, "--steps", "1", "--out", f.path("resumed/data")}
		}, 0, `data "` + testCorpus, "", nil},
		{"resume", "settings with lr NaN", resume(f.editState("lr", settings("lr", "NaN"), nil)), 1, "settings", "", nil},
		{"resume", "settings with seq -5", resume(f.editState("seq", settings("seq", -5), nil)), 1, "seq -5", "", nil},
		// Runs.
		{"run", "plot ±1e308", static("plot", metrics), 0, "", "", nil},
	}
}
