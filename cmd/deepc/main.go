// Command deepc is the CLI of the deepc compiler: it compiles models
// written in the .deep DSL (DeepSeek-V3 first) into a tensor IR and GPU
// kernel bundles, runs them on the CPU, the PTX emulator or a GPU
// (forward, generate, run), trains them, checks a GPU against the CPU
// (gpu-check) and hosts pass plugins. It is flags, help and printing over
// the driver package, which does the work.
package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/plugins/host"
	rt "github.com/deepc-dev/deepc/runtime"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	// An interrupt must not leave plugin processes behind.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	var interrupted atomic.Bool
	go func() {
		code := 143
		if <-sig == os.Interrupt {
			code = 130
		}
		interrupted.Store(true)
		host.Cleanup()
		fmt.Fprintln(os.Stderr, "deepc: interrupted")
		os.Exit(code)
	}()
	code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if interrupted.Load() {
		// Killing the plugins can end run (a plugin starting fails) before
		// the handler is done: it exits, with the signal's status, not 1.
		select {}
	}
	host.Cleanup()
	os.Exit(code)
}

// run executes the CLI and returns the exit status: 0 on success, 1 on any
// error (compile errors included), after printing the error to stderr.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	var prof profile
	var budget string
	root.PersistentFlags().StringVar(&prof.path, "cpuprofile", "", "write a CPU profile of the command to `FILE` (read it with go tool pprof)")
	root.PersistentFlags().StringVar(&budget, "max-memory", "", "refuse inputs that imply more memory than `SIZE` (e.g. 8GiB, 512MB; default: the machine's available memory), before allocating it")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		n, err := parseBytes(budget)
		if err != nil {
			return fmt.Errorf("--max-memory: %w", err)
		}
		rt.SetMemoryBudget(n)
		return prof.start()
	}
	defer rt.SetMemoryBudget(0)
	err := root.Execute()
	if perr := prof.stop(); err == nil {
		err = perr
	}
	if err != nil {
		fmt.Fprintln(stderr, "deepc:", err)
		return 1
	}
	return 0
}

// parseBytes reads a size: a number with an optional unit (B, KB, MB, GB,
// TB: powers of 1000; KiB, MiB, GiB, TiB, or K, M, G, T: powers of 1024).
// "" is 0, the default budget.
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	units := map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}
	i := strings.IndexFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.' || r == 'e' || r == 'E') })
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], strings.ToUpper(strings.TrimSpace(s[i:]))
	f, err := strconv.ParseFloat(num, 64)
	mul, ok := units[unit]
	if err != nil || !ok || !(f > 0) || f*mul >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 8GiB, 512MB, 1e9)", s)
	}
	return int64(f * mul), nil
}

// profile is the --cpuprofile of a run.
type profile struct {
	path string
	f    *os.File
}

func (p *profile) start() error {
	if p.path == "" {
		return nil
	}
	f, err := safefile.Create(p.path, safefile.Profile)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	p.f = f
	return nil
}

func (p *profile) stop() error {
	if p.f == nil {
		return nil
	}
	pprof.StopCPUProfile()
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	return nil
}

func newRoot(stdin io.Reader) *cobra.Command {
	root := &cobra.Command{
		Use:   "deepc",
		Short: "deepc compiles .deep model specs into tensor IR and GPU kernels",
		Long: `deepc is a compiler for models written in the .deep DSL: DeepSeek-V3 (MLA,
DeepSeekMoE, multi-token prediction, FP8) is its defining model. It
elaborates a model into a tensor IR, runs optimization pipelines over it,
reports parameter and FLOP statistics, compiles GPU kernel bundles, runs
models on the CPU, the PTX emulator or a GPU, generates text, trains, and
checks a GPU against the CPU.

Examples:
  deepc stats models/deepseek_v3.deep
  deepc compile models/deepseek_v3_tiny.deep --emit ir -o tiny.ir
  deepc compile models/deepseek_v3.deep --set mtp_depth=0 --timing
  deepc opt tiny.ir --passes canonicalize,cse,dce
  deepc passes`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(newCompileCmd(), newOptCmd(stdin), newStatsCmd(), newPassesCmd(), newVersionCmd(), newForwardCmd(), newInspectCmd(), newGenerateCmd(), newInitCmd(), newTokenizeCmd(stdin), newDetokenizeCmd(stdin), newPluginsCmd(), newGradCmd(), newTrainCmd(), newPlotCmd(), newKernelsCmd(), newBundleCmd(), newRunCmd(), newGPUCheckCmd(), newExportCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print deepc's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "deepc", version)
			return nil
		},
	}
}
