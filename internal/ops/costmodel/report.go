package costmodel

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// TalkFigures is the talk's monthly cost table (2016 prices, Lambda and
// DynamoDB only) by fleet size.
var TalkFigures = map[int]struct{ Lambda, DynamoDB float64 }{
	100:    {0, 0},
	1000:   {22.54, 54.03},
	10000:  {287.16, 760.89},
	100000: {math.NaN(), math.NaN()}, // not in the talk
}

// Report is what `make cost` prints.
type Report struct {
	Stage     string           `json:"stage"`
	Region    string           `json:"region"`
	Usage     Usage            `json:"usage"`
	Estimates []Estimate       `json:"estimates"`
	WhatIfs   []WhatIf         `json:"whatIfs"`
	Capacity  Capacity         `json:"capacity"`
	Prices    map[string]Price `json:"prices"`
	// detail is the fleet size whose lines are printed one by one.
	detail int
}

// NewReport estimates the stack at each fleet size, the what-ifs at
// whatIfVehicles, and the capacity at capacityVehicles.
func (m Model) NewReport(fleets []int, whatIfVehicles, capacityVehicles int) (*Report, error) {
	r := &Report{Stage: m.Stack.Stage, Region: m.Prices.Region, Usage: m.Usage, Prices: m.Prices.Prices, detail: whatIfVehicles}
	for _, n := range fleets {
		e, err := m.Estimate(n)
		if err != nil {
			return nil, err
		}
		r.Estimates = append(r.Estimates, e)
	}
	var err error
	if r.WhatIfs, err = m.WhatIfs(whatIfVehicles); err != nil {
		return nil, err
	}
	if r.Capacity, err = m.Capacity(capacityVehicles); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(r.Estimates, func(e Estimate) bool { return e.Vehicles == whatIfVehicles }) {
		e, err := m.Estimate(whatIfVehicles)
		if err != nil {
			return nil, err
		}
		r.Estimates = append(r.Estimates, e)
	}
	return r, nil
}

// Biggest returns the n biggest steady-state lines at a fleet size.
func (r *Report) Biggest(vehicles, n int) []Line {
	for _, e := range r.Estimates {
		if e.Vehicles == vehicles {
			lines := slices.Clone(e.Lines)
			slices.SortStableFunc(lines, func(a, b Line) int { return cmp.Compare(b.Steady, a.Steady) })
			return lines[:min(n, len(lines))]
		}
	}
	return nil
}

// WriteJSON writes the report as JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// table is rows of cells, the first a header, rendered as text or Markdown.
type table struct {
	title string
	rows  [][]string
	notes []string
	// left counts the leading columns of text (aligned left); a last
	// column of notes is left-aligned too when leftLast.
	left     int
	leftLast bool
}

func (r *Report) tables() []table {
	var out []table
	head := []string{"monthly, USD"}
	for _, e := range r.Estimates {
		head = append(head, fmt.Sprintf("%s vehicles", count(float64(e.Vehicles))))
	}
	summary := table{title: fmt.Sprintf("FleetApi %s, %s list prices: steady state (month 1)", r.Stage, r.Region), rows: [][]string{head}, left: 1}
	row := func(name string, f func(Estimate) string) {
		cells := []string{name}
		for _, e := range r.Estimates {
			cells = append(cells, f(e))
		}
		summary.rows = append(summary.rows, cells)
	}
	for _, svc := range Services {
		row(svc, func(e Estimate) string {
			m1 := 0.0
			for _, l := range e.Lines {
				if l.Service == svc {
					m1 += l.Month1
				}
			}
			return both(e.Service(svc), m1)
		})
	}
	row("total", func(e Estimate) string { return both(e.Steady, e.Month1) })
	row("free tier, if the account's only use", func(e Estimate) string { return usd(e.FreeSteady) })
	row("total after the free tier", func(e Estimate) string { return both(e.Steady+e.FreeSteady, e.Month1+e.FreeMonth1) })
	row("per vehicle-month", func(e Estimate) string { return fmt.Sprintf("$%.4f", e.PerVehicle()) })
	row("Lambda + DynamoDB (the talk's lines)", func(e Estimate) string {
		return usd(e.Service(ServiceLambda) + e.Service(ServiceDynamoDB))
	})
	row("the talk, 2016: Lambda + DynamoDB", func(e Estimate) string {
		t, ok := TalkFigures[e.Vehicles]
		if !ok || math.IsNaN(t.Lambda) {
			return "—"
		}
		return usd(t.Lambda + t.DynamoDB)
	})
	summary.notes = []string{
		"Steady state: events and logs stored for their whole retention; month 1 in brackets where it differs.",
		fmt.Sprintf("Usage: %.0f minutes of driving a day, %g sample/s, %d samples per upload (%.0f uploads a vehicle-day), %.0f-day months; reads: %g vehicle reads and %g day read-backs a vehicle-day, %g fleet listings a day.",
			r.Usage.DrivingMinutesPerDay, r.Usage.SamplesPerSecond, r.Usage.SamplesPerUpload, r.Usage.UploadsPerDay(), r.Usage.DaysPerMonth,
			r.Usage.VehicleReadsPerDay, r.Usage.DayReadsPerDay, r.Usage.FleetListingsPerDay),
	}
	out = append(out, summary)

	for _, e := range r.Estimates {
		if e.Vehicles != r.detail {
			continue
		}
		lines := table{title: fmt.Sprintf("Every line at %s vehicles (%s API requests a month)", count(float64(e.Vehicles)), count(e.Requests)),
			rows: [][]string{{"service", "item", "quantity a month", "steady", "month 1"}}, left: 2}
		for _, l := range append(slices.Clone(e.Lines), e.FreeTier...) {
			lines.rows = append(lines.rows, []string{l.Service, l.Item, quantity(l.Quantity) + " " + l.Unit, usd(l.Steady), usd(l.Month1)})
		}
		out = append(out, lines)
	}

	whatIfs := table{title: fmt.Sprintf("What if, at %s vehicles (steady state)", count(float64(r.detail))),
		rows: [][]string{{"change", "monthly", "difference", "note"}}, left: 1, leftLast: true}
	for _, w := range r.WhatIfs {
		whatIfs.rows = append(whatIfs.rows, []string{w.Change, usd(w.Steady), signed(w.Delta), w.Note})
	}
	if len(r.WhatIfs) > 0 {
		c := Cheapest(r.WhatIfs)
		whatIfs.notes = []string{fmt.Sprintf("Biggest saving: %s, %s a month.", c.Change, signed(c.Delta))}
	}
	out = append(out, whatIfs)

	c := r.Capacity
	capacity := table{title: fmt.Sprintf("Capacity at %s vehicles: %s uploads/s on average, %s at the peak (%gx)",
		count(float64(c.Vehicles)), count(c.AverageUploads), count(c.PeakUploads), r.Usage.PeakToAverage),
		rows: [][]string{{"limit", "whose", "the peak needs", "it allows", "binds", "from vehicles"}}, left: 2}
	for _, l := range c.Limits {
		binds, from := "", "—"
		if l.Binds() {
			binds = "yes"
		}
		if n := l.FromVehicles(c.Vehicles); n > 0 {
			from = count(n)
		}
		capacity.rows = append(capacity.rows, []string{l.Name, l.Of, count(l.Need), count(l.Limit), binds, from})
	}
	out = append(out, capacity)
	return out
}

// WriteText writes the report as aligned plain-text tables.
func (r *Report) WriteText(w io.Writer) error {
	for i, t := range r.tables() {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, t.title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, row := range t.rows {
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, n := range t.notes {
			fmt.Fprintln(w, n)
		}
	}
	return nil
}

// WriteMarkdown writes the report as Markdown tables.
func (r *Report) WriteMarkdown(w io.Writer) error {
	for i, t := range r.tables() {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "**%s**\n\n", t.title)
		for j, row := range t.rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
			if j == 0 {
				sep := make([]string, len(row))
				for k := range sep {
					sep[k] = "---:"
					if k < t.left || t.leftLast && k == len(row)-1 {
						sep[k] = "---"
					}
				}
				fmt.Fprintf(w, "| %s |\n", strings.Join(sep, " | "))
			}
		}
		for _, n := range t.notes {
			fmt.Fprintf(w, "\n%s\n", n)
		}
	}
	return nil
}

func both(steady, month1 float64) string {
	if math.Abs(steady-month1) < 0.005 {
		return usd(steady)
	}
	return fmt.Sprintf("%s (%s)", usd(steady), usd(month1))
}

// usd formats dollars with cents and thousands separators.
func usd(v float64) string {
	if v < 0 {
		return "-" + usd(-v)
	}
	cents := int64(math.Round(v * 100))
	return "$" + group(cents/100) + fmt.Sprintf(".%02d", cents%100)
}

func signed(v float64) string {
	if v >= 0 {
		return "+" + usd(v)
	}
	return usd(v)
}

func group(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// count formats a figure: whole numbers grouped, small ones with two
// decimals; quantity with three significant digits.
func count(v float64) string { return figure(v, "%.2f") }

func quantity(v float64) string { return figure(v, "%.3g") }

func figure(v float64, small string) string {
	if v >= 100 || v == math.Trunc(v) {
		return group(int64(math.Round(v)))
	}
	return fmt.Sprintf(small, v)
}
