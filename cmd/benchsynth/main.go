// Command benchsynth times `cdk synth` of one stage as a developer runs it
// (make bench-synth): the CLI from package-lock.json, the app command of
// cdk.json or others given with -app. Runs of the variants alternate, so
// that the machine's drift weighs on each alike; one warm-up run of each
// is not counted (the first synthesis after a change also compiles).
package main

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchsynth:", err)
		os.Exit(1)
	}
}

// apps collects the repeated -app flag.
type apps []string

func (a *apps) String() string     { return strings.Join(*a, ", ") }
func (a *apps) Set(s string) error { *a = append(*a, s); return nil }

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("benchsynth", flag.ContinueOnError)
	stage := fs.String("stage", "dev", "the stage to synthesize")
	runs := fs.Int("runs", 5, "timed runs of each variant")
	var variants apps
	fs.Var(&variants, "app", "an app command to time instead of cdk.json's (repeat to compare)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runs < 1 {
		return fmt.Errorf("-runs %d: must be 1 or more", *runs)
	}
	if len(variants) == 0 {
		variants = apps{""} // cdk.json's app
	}
	times := make([][]time.Duration, len(variants))
	for i := -1; i < *runs; i++ {
		for v, app := range variants {
			d, err := synth(app, *stage)
			if err != nil {
				return err
			}
			if i >= 0 {
				times[v] = append(times[v], d)
			}
		}
	}
	fmt.Fprintf(stdout, "cdk synth --context stage=%s, timed runs of each after a warm-up: %d; seconds:\n", *stage, *runs)
	for v, app := range variants {
		fmt.Fprintf(stdout, "  %-40s %s\n", cmp.Or(app, "cdk.json's app"), summary(times[v]))
	}
	return nil
}

// synth runs the CLI once into a fresh output directory and times it.
func synth(app, stage string) (time.Duration, error) {
	out, err := os.MkdirTemp("", "benchsynth")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(out)
	args := []string{"--no-notices", "synth", "--context", "stage=" + stage, "--output", out, "--quiet"}
	if app != "" {
		args = append(args, "--app", app)
	}
	cmd := exec.Command("cdk", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("cdk synth (app %q): %w\n%s", cmp.Or(app, "cdk.json's"), err, bytes.TrimSpace(stderr.Bytes()))
	}
	if _, err := os.Stat(out + "/FleetApi-" + stage + ".template.json"); errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("cdk synth (app %q) wrote no template for stage %s", cmp.Or(app, "cdk.json's"), stage)
	}
	return d, nil
}

// summary gives the median, the fastest and the slowest run.
func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	median := s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return fmt.Sprintf("median %.2f (%.2f-%.2f)", median.Seconds(), s[0].Seconds(), s[len(s)-1].Seconds())
}
