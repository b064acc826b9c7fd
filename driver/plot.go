package driver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/deepc-dev/deepc/internal/safefile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// PlotRun draws a training run's metrics.jsonl (in dir) into a PNG at out:
// three panels sharing the step axis (training and validation loss,
// learning rate, gradient norm). It returns the number of steps plotted.
func PlotRun(dir, out string) (int, error) {
	series, err := readMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return 0, err
	}
	return len(series["loss"]), plotRun(series, out)
}

// readMetrics reads step-indexed series of the fields it plots.
func readMetrics(path string) (map[string]plotter.XYs, error) {
	f, err := safefile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]plotter.XYs{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		step, ok := rec["step"].(float64)
		if !ok {
			return nil, fmt.Errorf("%s:%d: no step", path, line)
		}
		for _, k := range []string{"loss", "ce", "val_loss", "lr", "grad_norm"} {
			if v, ok := rec[k].(float64); ok {
				out[k] = append(out[k], plotter.XY{X: plotClamp(step), Y: plotClamp(v)})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out["loss"]) == 0 {
		return nil, fmt.Errorf("%s: no steps", path)
	}
	return out, nil
}

// plotLimit bounds what is drawn: the axes' tick arithmetic works on the
// range max-min, which overflows to +Inf for values near ±1e308 (JSON
// holds any finite float64) and then never ends (issue 15: plot hung on a
// diverged run). Nothing a real run logs comes near it.
const plotLimit = 1e100

func plotClamp(v float64) float64 { return max(-plotLimit, min(v, plotLimit)) }

func plotRun(s map[string]plotter.XYs, path string) error {
	panel := func(title, ylabel string, names ...string) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "step"
		p.Y.Label.Text = ylabel
		var args []any
		for _, n := range names {
			if len(s[n]) > 0 {
				args = append(args, n, s[n])
			}
		}
		if err := plotutil.AddLines(p, args...); err != nil {
			return nil, err
		}
		return p, nil
	}
	loss, err := panel("loss (ce: next-token cross-entropy; loss adds MTP and balance)", "nats per token", "loss", "ce", "val_loss")
	if err != nil {
		return err
	}
	lr, err := panel("learning rate", "lr", "lr")
	if err != nil {
		return err
	}
	gn, err := panel("gradient norm", "‖g‖ (before clipping)", "grad_norm")
	if err != nil {
		return err
	}
	const w, h = 8 * vg.Inch, 10 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 3, Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter, PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 2 * vg.Millimeter}
	canvases := plot.Align([][]*plot.Plot{{loss}, {lr}, {gn}}, tiles, dc)
	loss.Draw(canvases[0][0])
	lr.Draw(canvases[1][0])
	gn.Draw(canvases[2][0])
	f, err := safefile.Create(path, safefile.PNG)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
