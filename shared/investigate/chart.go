package investigate

import (
	"bytes"
	"fmt"
	"image/color"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Size of the chart in pixels.
const (
	ChartWidth  = 1200
	ChartHeight = 600
	chartDPI    = 96
)

// Chart is the PNG of the minutes stacked by the top hosts; in JSON its
// bytes are base64 (encoding/json's []byte).
type Chart struct {
	ContentType string `json:"content_type"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	PNG         []byte `json:"png"`
}

// Draw renders the result's chart: per minute, the bytes each top host sent
// to the destination stacked, with the rest of the hosts on top.
func Draw(res *Result) (*Chart, error) {
	p := plot.New()
	title := "Traffic to " + res.DstIP
	if res.DstPort != 0 {
		title += fmt.Sprintf(":%d", res.DstPort)
	}
	if res.EgressIP != "" {
		title += " via " + res.EgressIP
	}
	p.Title.Text = title + " (bytes from the VPC per minute, UTC)"
	p.Y.Label.Text = "bytes"
	p.Legend.Top = true
	p.Legend.Left = true

	var first, last int64
	if len(res.Minutes) > 0 {
		first, last = res.Minutes[0].unix, res.Minutes[len(res.Minutes)-1].unix
	} else {
		p.Title.Text += ": no traffic in range"
	}
	n := int((last-first)/60) + 1
	if len(res.Minutes) == 0 {
		n = 0
	}
	// Bars fill the plot area: about 1000 points across for n minutes.
	width := vg.Points(max(0.5, 900/float64(max(n, 1))))
	total := make(plotter.Values, n)
	for _, m := range res.Minutes {
		total[(m.unix-first)/60] = float64(m.BytesFromVPC)
	}
	var below *plotter.BarChart
	stacked := make(plotter.Values, n)
	for i, h := range res.Hosts {
		vs := make(plotter.Values, n)
		for m, b := range h.series {
			if m >= first && m <= last {
				vs[(m-first)/60] = float64(b)
				stacked[(m-first)/60] += float64(b)
			}
		}
		bar, err := layer(vs, width, plotutil.Color(i), below)
		if err != nil {
			return nil, err
		}
		p.Add(bar)
		label := h.PrivateIP
		if h.InstanceID != "" {
			label += " " + h.InstanceID
		}
		p.Legend.Add(label, bar)
		below = bar
	}
	rest := make(plotter.Values, n)
	var anyRest bool
	for i := range rest {
		if d := total[i] - stacked[i]; d > 0 {
			rest[i], anyRest = d, true
		}
	}
	if anyRest || len(res.Hosts) == 0 {
		bar, err := layer(rest, width, color.Gray{Y: 170}, below)
		if err != nil {
			return nil, err
		}
		p.Add(bar)
		if len(res.Hosts) > 0 {
			p.Legend.Add("other hosts", bar)
		}
	}
	p.X.Tick.Marker = minuteTicks{first: first, n: n}
	p.X.Label.Text = "minute"

	c := vgimg.NewWith(vgimg.UseWH(ChartWidth*vg.Inch/chartDPI, ChartHeight*vg.Inch/chartDPI), vgimg.UseDPI(chartDPI))
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode chart: %w", err)
	}
	b := c.Image().Bounds()
	return &Chart{ContentType: "image/png", Width: b.Dx(), Height: b.Dy(), PNG: buf.Bytes()}, nil
}

func layer(vs plotter.Values, width vg.Length, col color.Color, below *plotter.BarChart) (*plotter.BarChart, error) {
	if len(vs) == 0 {
		vs = plotter.Values{0} // gonum refuses an empty bar chart
	}
	bar, err := plotter.NewBarChart(vs, width)
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	bar.Color = col
	bar.LineStyle.Width = 0
	if below != nil {
		bar.StackOn(below)
	}
	return bar, nil
}

// minuteTicks labels bar i with its minute (HH:MM), about ten labels in
// all.
type minuteTicks struct {
	first int64
	n     int
}

func (t minuteTicks) Ticks(lo, hi float64) []plot.Tick {
	step := max(1, t.n/10)
	for _, nice := range []int{1, 2, 5, 10, 15, 30, 60, 120, 180} {
		if nice >= step {
			step = nice
			break
		}
	}
	var out []plot.Tick
	for i := 0; i < t.n; i++ {
		label := ""
		m := t.first + int64(i)*60
		if (m/60)%int64(step) == 0 {
			label = time.Unix(m, 0).UTC().Format("15:04")
		}
		out = append(out, plot.Tick{Value: float64(i), Label: label})
	}
	return out
}
