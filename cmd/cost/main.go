// Command cost estimates the monthly AWS bill of a synthesized FleetApi
// stage at several fleet sizes, from the template, a usage profile and a
// dated price table: make cost STAGE=prod.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/fleetapi/fleetapi/internal/ops/costmodel"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cost:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cost", flag.ContinueOnError)
	template := fs.String("template", "", "the synthesized template (required), e.g. cdk.out/prod/FleetApi-prod.template.json")
	prices := fs.String("prices", "cost/prices-us-east-1.yaml", "the dated price table")
	usage := fs.String("usage", "", "a usage file overriding the default profile (see cost/usage-example.yaml)")
	vehicles := fs.String("vehicles", "100,1000,10000,100000", "fleet sizes, comma-separated")
	whatIf := fs.Int("what-if", 10000, "the fleet size of the line-by-line estimate and the what-ifs")
	capacity := fs.Int("capacity", 1000000, "the fleet size of the capacity plan")
	format := fs.String("format", "table", "table, json or markdown")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *template == "" {
		return errors.New("-template is required")
	}
	fleets, err := parseFleets(*vehicles)
	if err != nil {
		return err
	}
	if *whatIf < 1 || *capacity < 1 {
		return fmt.Errorf("-what-if %d, -capacity %d: fleet sizes must be 1 or more", *whatIf, *capacity)
	}
	write, ok := map[string]func(*costmodel.Report, io.Writer) error{
		"table": (*costmodel.Report).WriteText, "json": (*costmodel.Report).WriteJSON, "markdown": (*costmodel.Report).WriteMarkdown,
	}[*format]
	if !ok {
		return fmt.Errorf("-format %q: allowed are table, json, markdown", *format)
	}
	stack, err := costmodel.LoadStack(*template)
	if err != nil {
		return err
	}
	p, err := costmodel.LoadPrices(*prices)
	if err != nil {
		return err
	}
	u, err := costmodel.LoadUsage(*usage)
	if err != nil {
		return err
	}
	report, err := costmodel.Model{Stack: stack, Usage: u, Prices: p}.NewReport(fleets, *whatIf, *capacity)
	if err != nil {
		return err
	}
	return write(report, stdout)
}

func parseFleets(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-vehicles %q: %q is not a fleet size (a whole number, 1 or more)", s, part)
		}
		out = append(out, n)
	}
	return out, nil
}
