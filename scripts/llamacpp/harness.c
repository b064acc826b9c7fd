// llama-harness: runs a GGUF model with llama.cpp's prebuilt CPU library
// (libllama from the npm package @node-llama-cpp/linux-x64), for deepc's
// export test and CPU benchmark. Built by scripts/llamacpp/setup.sh
// against the llama.h of that very build.
//
//   llama-harness logits MODEL.gguf TOKENS.json OUT.npy [--prefill K] [--threads N]
//       Every position's logits of every sequence (a JSON array of arrays of
//       token ids, all the same length) as float32 [B, T, V]. Each sequence
//       runs alone from an empty cache; with --prefill K its first K tokens
//       go in one batch and the rest one at a time (deepc forward --prefill).
//   llama-harness tokenize MODEL.gguf TEXT
//       The ids of TEXT (special tokens parsed, no BOS added), one line;
//       only the file's vocabulary is read (its tensors may be absent).
//   llama-harness bench MODEL.gguf [--batch B] [--prompt-len P] [--decode D]
//                       [--runs R] [--threads N] [--last-only]
//       deepc-bench's workload: B prompts of P tokens prefilled together,
//       then D greedy decode steps of one token per sequence; prints one
//       JSON object with every run's times. Prefill asks for every
//       position's logits (like deepc) unless --last-only.
//
// Every run uses an F32 K/V cache and no flash attention (bench
// --flash-attn turns it on; llama.cpp's CPU kernel then rounds K and V to
// f16), so that the numbers match deepc's fp32 mode. LLAMA_HARNESS_VERBOSE
// shows llama.cpp's log, LLAMA_HARNESS_DUMP every graph node's first
// values. Exit status 1 with a message on any error.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ggml-backend.h"
#include "llama.h"

static void die(const char *msg, const char *arg) {
	fprintf(stderr, "llama-harness: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(1);
}

// llama.cpp's log goes to stderr when LLAMA_HARNESS_VERBOSE is set; its
// errors always do.
static void logger(enum ggml_log_level level, const char *text, void *user) {
	(void)user;
	if (level >= GGML_LOG_LEVEL_ERROR || getenv("LLAMA_HARNESS_VERBOSE")) fputs(text, stderr);
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long intarg(const char *s, const char *flag) {
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 1000000) die("bad number for", flag);
	return v;
}

// The tokens: a JSON array of equal-length arrays of ids.
typedef struct {
	int n_seq, len;
	llama_token *ids; // n_seq * len
} seqs;

static seqs read_tokens(const char *path) {
	FILE *f = fopen(path, "rb");
	if (!f) die("cannot open", path);
	seqs s = {0, 0, NULL};
	size_t cap = 0, n = 0;
	int depth = 0, cur = 0, c;
	long v = -1;
	while ((c = fgetc(f)) != EOF) {
		if (c >= '0' && c <= '9') {
			v = (v < 0 ? 0 : v * 10) + (c - '0');
			if (v > 100000000) die("token id too large in", path);
			continue;
		}
		if (v >= 0) {
			if (depth != 2) die("ids must sit in an array of arrays:", path);
			if (n == cap) {
				cap = cap ? 2 * cap : 1024;
				s.ids = realloc(s.ids, cap * sizeof *s.ids);
				if (!s.ids) die("out of memory", NULL);
			}
			s.ids[n++] = (llama_token)v;
			cur++;
			v = -1;
		}
		if (c == '[') {
			if (++depth > 2) die("arrays nested too deep in", path);
			cur = 0;
		} else if (c == ']') {
			if (depth == 2) {
				if (s.n_seq == 0) s.len = cur;
				else if (cur != s.len) die("sequences of different lengths in", path);
				s.n_seq++;
			}
			depth--;
		} else if (c != ',' && c != ' ' && c != '\n' && c != '\t' && c != '\r') {
			die("not a JSON array of arrays of ids:", path);
		}
	}
	fclose(f);
	if (s.n_seq == 0 || s.len == 0) die("no tokens in", path);
	return s;
}

static bool no_progress(float p, void *user) {
	(void)p, (void)user;
	return true;
}

static struct llama_model *load(const char *path, const char *libdir, int vocab_only) {
	llama_log_set(logger, NULL);
	// The CPU backend is a set of libraries, one per instruction set;
	// this loads the best one the machine runs.
	ggml_backend_load_all_from_path(libdir);
	llama_backend_init();
	struct llama_model_params mp = llama_model_default_params();
	mp.progress_callback = no_progress; // the loader's dots
	mp.vocab_only = vocab_only;
	struct llama_model *m = llama_model_load_from_file(path, mp);
	if (!m) die("llama.cpp could not load", path);
	return m;
}

// dump prints every graph node's first values when LLAMA_HARNESS_DUMP is
// set: for finding where two implementations part.
static bool dump(struct ggml_tensor *t, bool ask, void *user) {
	(void)user;
	if (ask) return true;
	if (t->type == GGML_TYPE_F32 && t->data && ggml_is_contiguous(t)) {
		const float *x = (const float *)t->data;
		fprintf(stderr, "%-28s [%lld %lld %lld] %.7g %.7g %.7g %.7g\n", t->name, (long long)t->ne[0], (long long)t->ne[1],
		        (long long)t->ne[2], x[0], ggml_nelements(t) > 1 ? x[1] : 0, ggml_nelements(t) > 2 ? x[2] : 0, ggml_nelements(t) > 3 ? x[3] : 0);
	}
	return true;
}

static struct llama_context *context(struct llama_model *m, int n_ctx, int n_batch, int n_seq, int threads, int flash_attn) {
	struct llama_context_params cp = llama_context_default_params();
	cp.n_ctx = n_ctx;
	cp.n_batch = n_batch;
	cp.n_ubatch = n_batch;
	cp.n_seq_max = n_seq;
	cp.n_threads = threads;
	cp.n_threads_batch = threads;
	cp.type_k = GGML_TYPE_F32;
	cp.type_v = GGML_TYPE_F32;
	cp.no_perf = 1;
	// llama.cpp's CPU flash attention rounds K and V to f16; without it
	// the whole computation is f32, like deepc's fp32 mode.
	cp.flash_attn_type = flash_attn ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
	if (getenv("LLAMA_HARNESS_DUMP")) cp.cb_eval = dump;
	struct llama_context *ctx = llama_init_from_model(m, cp);
	if (!ctx) die("llama.cpp could not make a context", NULL);
	return ctx;
}

static void add(struct llama_batch *b, llama_token id, int pos, int seq, int logits) {
	int i = b->n_tokens++;
	b->token[i] = id;
	b->pos[i] = pos;
	b->n_seq_id[i] = 1;
	b->seq_id[i][0] = seq;
	b->logits[i] = (int8_t)logits;
}

static void decode(struct llama_context *ctx, struct llama_batch b) {
	int rc = llama_decode(ctx, b);
	if (rc != 0) {
		char msg[64];
		snprintf(msg, sizeof msg, "llama_decode returned %d", rc);
		die(msg, NULL);
	}
}

// logits_ith is llama_get_logits_ith, which returns NULL for a position
// without logits.
static const float *logits_ith(struct llama_context *ctx, int i) {
	const float *l = llama_get_logits_ith(ctx, i);
	if (!l) die("llama.cpp returned no logits for a position", NULL);
	return l;
}

static void write_npy(const char *path, const float *data, int b, int t, int v) {
	FILE *f = fopen(path, "wb");
	if (!f) die("cannot create", path);
	char dict[128];
	int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d), }", b, t, v);
	int total = 10 + n + 1;
	int pad = (64 - total % 64) % 64;
	unsigned short hlen = (unsigned short)(n + pad + 1);
	fwrite("\x93NUMPY\x01\x00", 1, 8, f);
	fputc(hlen & 0xff, f);
	fputc(hlen >> 8, f);
	fwrite(dict, 1, n, f);
	for (int i = 0; i < pad; i++) fputc(' ', f);
	fputc('\n', f);
	size_t count = (size_t)b * t * v;
	if (fwrite(data, sizeof(float), count, f) != count || fclose(f) != 0) die("cannot write", path);
}

static int cmd_logits(int argc, char **argv, const char *libdir) {
	if (argc < 5) die("usage: llama-harness logits MODEL.gguf TOKENS.json OUT.npy [--prefill K] [--threads N]", NULL);
	int prefill = -1, threads = 1;
	for (int i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "--prefill") && i + 1 < argc) prefill = (int)intarg(argv[++i], "--prefill");
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = (int)intarg(argv[++i], "--threads");
		else die("unknown argument", argv[i]);
	}
	seqs s = read_tokens(argv[3]);
	if (prefill > s.len) die("--prefill is longer than the sequences", NULL);
	struct llama_model *m = load(argv[2], libdir, 0);
	int V = llama_vocab_n_tokens(llama_model_get_vocab(m));
	struct llama_context *ctx = context(m, s.len < 256 ? 256 : s.len, s.len, 1, threads, 0);
	float *out = malloc((size_t)s.n_seq * s.len * V * sizeof(float));
	struct llama_batch b = llama_batch_init(s.len, 0, 1);
	if (!out) die("out of memory", NULL);
	for (int q = 0; q < s.n_seq; q++) {
		const llama_token *ids = s.ids + (size_t)q * s.len;
		llama_memory_clear(llama_get_memory(ctx), 1);
		int first = prefill < 0 ? s.len : prefill;
		int done = 0;
		if (first > 0) {
			b.n_tokens = 0;
			for (int j = 0; j < first; j++) add(&b, ids[j], j, 0, 1);
			decode(ctx, b);
			for (int j = 0; j < first; j++)
				memcpy(out + ((size_t)q * s.len + j) * V, logits_ith(ctx, j), V * sizeof(float));
			done = first;
		}
		for (int j = done; j < s.len; j++) {
			b.n_tokens = 0;
			add(&b, ids[j], j, 0, 1);
			decode(ctx, b);
			memcpy(out + ((size_t)q * s.len + j) * V, logits_ith(ctx, 0), V * sizeof(float));
		}
	}
	write_npy(argv[4], out, s.n_seq, s.len, V);
	llama_batch_free(b);
	llama_free(ctx);
	llama_model_free(m);
	return 0;
}

static int cmd_tokenize(int argc, char **argv, const char *libdir) {
	if (argc != 4) die("usage: llama-harness tokenize MODEL.gguf TEXT", NULL);
	struct llama_model *m = load(argv[2], libdir, 1);
	const struct llama_vocab *v = llama_model_get_vocab(m);
	int len = (int)strlen(argv[3]);
	llama_token *ids = malloc((len + 8) * sizeof *ids);
	if (!ids) die("out of memory", NULL);
	int n = llama_tokenize(v, argv[3], len, ids, len + 8, 0, 1);
	if (n < 0) die("llama_tokenize failed", NULL);
	for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
	printf("\n");
	llama_model_free(m);
	return 0;
}

// prompt is deepc-bench's token j of prompt b (scripts/bench/main.go).
static int prompt(int b, int j, int vocab) { return (1 + 31 * b + 7 * j + (j * j) % 13) % vocab; }

static int argmax(const float *x, int n) {
	int best = 0;
	for (int i = 1; i < n; i++)
		if (x[i] > x[best]) best = i;
	return best;
}

static int cmd_bench(int argc, char **argv, const char *libdir) {
	if (argc < 3) die("usage: llama-harness bench MODEL.gguf [--batch B] [--prompt-len P] [--decode D] [--runs R] [--threads N] [--last-only] [--flash-attn]", NULL);
	int B = 4, P = 64, D = 32, R = 3, threads = 1, last_only = 0, flash_attn = 0;
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--last-only")) last_only = 1;
		else if (!strcmp(argv[i], "--flash-attn")) flash_attn = 1;
		else if (i + 1 >= argc) die("missing value for", argv[i]);
		else if (!strcmp(argv[i], "--batch")) B = (int)intarg(argv[++i], "--batch");
		else if (!strcmp(argv[i], "--prompt-len")) P = (int)intarg(argv[++i], "--prompt-len");
		else if (!strcmp(argv[i], "--decode")) D = (int)intarg(argv[++i], "--decode");
		else if (!strcmp(argv[i], "--runs")) R = (int)intarg(argv[++i], "--runs");
		else if (!strcmp(argv[i], "--threads")) threads = (int)intarg(argv[++i], "--threads");
		else die("unknown argument", argv[i]);
	}
	if (B < 1 || P < 1 || R < 1 || threads < 1) die("need batch, prompt-len, runs and threads >= 1", NULL);
	if ((long)B * (P + D + 1) > 1000000 || P > 10000) die("batch x (prompt-len + decode) must stay under a million tokens", NULL);
	double t0 = now();
	struct llama_model *m = load(argv[2], libdir, 0);
	int V = llama_vocab_n_tokens(llama_model_get_vocab(m));
	int n_ctx = B * (P + D + 1);
	struct llama_context *ctx = context(m, n_ctx < 256 ? 256 : n_ctx, B * P, B, threads, flash_attn);
	double load_s = now() - t0;
	struct llama_batch b = llama_batch_init(B * P, 0, 1);
	int *next = malloc(B * sizeof(int));
	int *gen = malloc((size_t)B * (D + 1) * sizeof(int));
	double *pre = malloc(R * sizeof(double)), *dec = malloc(R * sizeof(double));
	if (!next || !gen || !pre || !dec) die("out of memory", NULL);
	for (int r = 0; r < R; r++) {
		llama_memory_clear(llama_get_memory(ctx), 1);
		b.n_tokens = 0;
		for (int q = 0; q < B; q++)
			for (int j = 0; j < P; j++) add(&b, prompt(q, j, V), j, q, !last_only || j == P - 1);
		double s = now();
		decode(ctx, b);
		for (int q = 0; q < B; q++) {
			next[q] = argmax(logits_ith(ctx, q * P + P - 1), V);
			gen[q * (D + 1)] = next[q];
		}
		pre[r] = now() - s;
		s = now();
		for (int d = 0; d < D; d++) {
			b.n_tokens = 0;
			for (int q = 0; q < B; q++) add(&b, next[q], P + d, q, 1);
			decode(ctx, b);
			for (int q = 0; q < B; q++) {
				next[q] = argmax(logits_ith(ctx, q), V);
				gen[q * (D + 1) + d + 1] = next[q];
			}
		}
		dec[r] = now() - s;
	}
	printf("{\"impl\": \"llama.cpp\", \"mode\": \"%s\", \"flash_attn\": %s, \"threads\": %d, \"batch\": %d, \"prompt_len\": %d, \"decode\": %d, \"runs\": %d, \"load_s\": %.4f",
	       last_only ? "last" : "all", flash_attn ? "true" : "false", threads, B, P, D, R, load_s);
	printf(", \"prefill_s\": [");
	for (int r = 0; r < R; r++) printf(r ? ", %.6f" : "%.6f", pre[r]);
	printf("], \"decode_s\": [");
	for (int r = 0; r < R; r++) printf(r ? ", %.6f" : "%.6f", dec[r]);
	printf("], \"generated\": [");
	for (int q = 0; q < B; q++) {
		printf(q ? ", [" : "[");
		for (int d = 0; d <= D; d++) printf(d ? ", %d" : "%d", gen[q * (D + 1) + d]);
		printf("]");
	}
	printf("]}\n");
	llama_batch_free(b);
	llama_free(ctx);
	llama_model_free(m);
	return 0;
}

int main(int argc, char **argv) {
	// The libraries sit in ../lib beside the harness's own directory
	// (setup.sh's layout); the rpath finds libllama there, and this the
	// CPU backend's variants.
	static char libdir[4096];
	ssize_t n = readlink("/proc/self/exe", libdir, sizeof libdir - 8);
	if (n <= 0) die("cannot find the harness's own path", NULL);
	libdir[n] = 0;
	char *slash = strrchr(libdir, '/');
	if (!slash) die("cannot find the harness's own directory", NULL);
	strcpy(slash, "/../lib");
	if (argc < 2) die("usage: llama-harness logits|tokenize|bench ...", NULL);
	if (!strcmp(argv[1], "logits")) return cmd_logits(argc, argv, libdir);
	if (!strcmp(argv[1], "tokenize")) return cmd_tokenize(argc, argv, libdir);
	if (!strcmp(argv[1], "bench")) return cmd_bench(argc, argv, libdir);
	die("unknown command", argv[1]);
	return 1;
}
