// Package testseed gives tests random seeds that can be replayed: a test
// that draws random inputs takes its seed from Seed, which logs it; the
// environment variable DEEPC_TEST_SEED sets every test's seed to replay a
// failure.
package testseed

import (
	"hash/fnv"
	"os"
	"strconv"
	"testing"
	"time"
)

// Env is the variable that fixes the seeds.
const Env = "DEEPC_TEST_SEED"

// Seed returns the test's seed: DEEPC_TEST_SEED when set (mixed with the
// test's name, so tests do not share a stream), else one from the clock.
// It logs the value to set to replay the run.
func Seed(t testing.TB) uint64 {
	t.Helper()
	base := uint64(time.Now().UnixNano())
	if s := os.Getenv(Env); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: not an unsigned integer", Env, s)
		}
		base = v
	}
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	t.Logf("random seed: replay with %s=%d", Env, base)
	return base ^ h.Sum64()
}
