// Command breakingcheck fails when a stage's stateful resources (tables,
// log groups, keys, secrets, topics) would be deleted, orphaned or
// replaced by deploying this checkout over the release BASE (make
// breaking-check): it diffs each stage's fresh, masked synthesis
// (cdk.out/STAGE.masked) against the stage's committed template at BASE
// with cdk diff, unless breaking-changes.yaml acknowledges the resource.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/fleetapi/fleetapi/internal/release/breaking"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "breakingcheck:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("breakingcheck", flag.ContinueOnError)
	base := fs.String("base", "", "the git revision to compare with (a release tag)")
	stages := fs.String("stages", "dev,staging,prod", "the stages, comma-separated")
	acksFile := fs.String("acks", "breaking-changes.yaml", "the file of acknowledged changes")
	cdk := fs.String("cdk", "node_modules/.bin/cdk", "the CDK CLI")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" {
		return fmt.Errorf("-base is required: the release to compare with")
	}
	acks, err := breaking.LoadAcks(*acksFile)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "breakingcheck")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var found []breaking.Change
	for _, stage := range strings.Split(*stages, ",") {
		stack := "FleetApi-" + stage
		old, err := exec.Command("git", "show", *base+":test/testdata/"+stack+".template.json").Output()
		if err != nil {
			fmt.Fprintf(stdout, "%s: no template at %s, nothing to compare\n", stack, *base)
			continue
		}
		path := filepath.Join(tmp, stack+".json")
		if err := os.WriteFile(path, old, 0o644); err != nil {
			return err
		}
		out, err := breaking.Diff(*cdk, filepath.Join("cdk.out", stage+".masked"), stack, path)
		if err != nil {
			return err
		}
		changes := breaking.Parse(stack, out)
		left := breaking.Unacknowledged(changes, acks)
		fmt.Fprintf(stdout, "%s against %s: %d stateful resources lost, %d of them acknowledged\n", stack, *base, len(changes), len(changes)-len(left))
		found = append(found, left...)
	}
	for _, c := range found {
		fmt.Fprintln(stdout, "  "+c.String())
	}
	if len(found) > 0 {
		return fmt.Errorf("%d stateful resources would lose their data; if a change is meant, acknowledge each in %s with the reason", len(found), *acksFile)
	}
	return nil
}
