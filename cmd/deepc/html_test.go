package main

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deepc-dev/deepc/passes"
)

// compile --html writes a page with the input and one column per pass,
// replaces a page it wrote, and refuses to overwrite anything else.
func TestHTMLFlag(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "passes.html")
	for range 2 { // the second run replaces the first's page
		_, _, errOut := deepc(t, "compile", tinyModel, "--html", page)
		if !strings.Contains(errOut, "wrote "+page+": @forward after each of 3 passes") {
			t.Fatalf("compile --html said:\n%s", errOut)
		}
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), passes.HTMLMarker) {
		t.Errorf("the page begins %.80q", b)
	}
	if n := strings.Count(string(b), `<div class="col">`); n != 4 {
		t.Errorf("%d columns, want 4 (input, canonicalize, cse, dce)", n)
	}

	notes := filepath.Join(dir, "notes.html")
	os.WriteFile(notes, []byte("<!DOCTYPE html>\n<p>mine</p>\n"), 0o644)
	code, _, errOut := deepc(t, "compile", tinyModel, "--html", notes)
	if got, _ := os.ReadFile(notes); code != 1 || !strings.Contains(errOut, "is not a deepc HTML page") || !strings.Contains(string(got), "mine") {
		t.Errorf("--html over a page deepc did not write: exit %d, file now %q\n%s", code, got, errOut)
	}

	mtp := filepath.Join(dir, "mtp.html")
	mustDeepc(t, "compile", tinyModel, "--html", mtp, "--html-func", "mtp")
	if b, _ := os.ReadFile(mtp); !strings.Contains(string(b), "func @mtp(") || strings.Contains(string(b), "func @forward(") {
		t.Error("--html-func mtp does not show @mtp alone")
	}
	code, _, errOut = deepc(t, "compile", tinyModel, "--html", filepath.Join(dir, "x.html"), "--html-func", "decode")
	if code != 1 || !strings.Contains(errOut, "no function @decode") || !strings.Contains(errOut, "@forward, @mtp") {
		t.Errorf("--html-func decode: exit %d\n%s", code, errOut)
	}
	help := mustDeepc(t, "compile", "--help")
	for _, want := range []string{"--html FILE", "--html-func NAME"} {
		if !strings.Contains(help, want) {
			t.Errorf("compile --help does not document %s", want)
		}
	}
	code, _, errOut = deepc(t, "compile", tinyModel, "--html-func", "mtp")
	if code != 1 || !strings.Contains(errOut, "--html") {
		t.Errorf("--html-func without --html: exit %d\n%s", code, errOut)
	}
}

// headerColour is the column headers' background in the page
// (passes/instr_html_page.go); h0 is the first mark a clicked value gets.
var (
	headerColour = [3]uint8{0x1f, 0x4e, 0x79}
	markColour   = [3]uint8{0xff, 0xb3, 0xb3}
)

// The page as a browser draws it: a screenshot shows one header per
// column, side by side, and a value marked through the address (the way
// a click marks it) is marked in every column.
func TestHTMLScreenshot(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "passes.html")
	mustDeepc(t, "compile", tinyModel, "--html", page)
	src, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	// Value 1 is forward's first argument, %tokens, on every column's
	// first line, so it is on screen wherever it is marked.
	url := "file://" + page + "#v=1"

	shot := filepath.Join(dir, "shot.png")
	headless(t, browser, dir, "--window-size=1600,1000", "--screenshot="+shot, url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	cols := headerRuns(img)
	t.Logf("column headers at x %v", cols)
	if len(cols) != 4 {
		t.Fatalf("the screenshot shows %d column headers %v, want 4 (input + 3 passes)", len(cols), cols)
	}
	for _, c := range cols {
		if !hasColour(img, c, markColour) {
			t.Errorf("the column at x %d..%d shows no marked value", c[0], c[1])
		}
	}

	dom := headless(t, browser, dir, "--dump-dom", url)
	uses := regexp.MustCompile(`<span class="v( def)?" data-v="1">%tokens</span>`).FindAllString(string(src), -1)
	marked := regexp.MustCompile(`<span class="v( def)? h0" data-v="1">%tokens</span>`).FindAllString(dom, -1)
	if len(uses) < 8 || len(marked) != len(uses) {
		t.Errorf("%%tokens appears %d times in the page; the browser marked %d of them", len(uses), len(marked))
	}
}

// chromium finds the browser; without one the test is skipped, except on
// CI, where scripts/deps.sh installs it.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; on CI scripts/deps.sh (make deps) must install it")
	}
	t.Skip("chromium is not installed: run scripts/deps.sh (or apt-get install chromium) for the browser test")
	return ""
}

// headless runs the browser on one page and returns what it printed on
// standard output.
func headless(t *testing.T, browser, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// No sandbox: tests run as root on CI, where chromium refuses it. A
	// profile of its own keeps the browser out of $HOME.
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir=" + filepath.Join(dir, "profile")}, args...)
	cmd := exec.CommandContext(ctx, browser, args...)
	cmd.WaitDelay = 10 * time.Second
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return string(out)
}

// headerRuns returns the x ranges of the column headers: the runs of
// header colour along a row just inside the headers' top padding, above
// their text.
func headerRuns(img image.Image) [][2]int {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		if runs := colourRuns(img, y, headerColour); len(runs) > 0 {
			return colourRuns(img, y+2, headerColour)
		}
	}
	return nil
}

// colourRuns are the runs of colour c along row y at least 20 pixels long:
// narrower ones are glyphs or edges, not headers.
func colourRuns(img image.Image, y int, c [3]uint8) [][2]int {
	var runs [][2]int
	b := img.Bounds()
	start := -1
	for x := b.Min.X; x <= b.Max.X; x++ {
		in := x < b.Max.X && isColour(img, x, y, c)
		switch {
		case in && start < 0:
			start = x
		case !in && start >= 0:
			if x-start >= 20 {
				runs = append(runs, [2]int{start, x})
			}
			start = -1
		}
	}
	return runs
}

// hasColour says whether colour c appears anywhere within the x range.
func hasColour(img image.Image, xs [2]int, c [3]uint8) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := xs[0]; x < xs[1]; x++ {
			if isColour(img, x, y, c) {
				return true
			}
		}
	}
	return false
}

// isColour allows a step or two of difference, for colour management.
func isColour(img image.Image, x, y int, c [3]uint8) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	near := func(v uint32, w uint8) bool { d := int(v>>8) - int(w); return d >= -2 && d <= 2 }
	return near(r, c[0]) && near(g, c[1]) && near(b, c[2])
}
