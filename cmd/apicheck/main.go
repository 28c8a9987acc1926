// Command apicheck compares the Go API of the packages other teams import
// (constructs/fleetapi, client, agent) with those of a release (make api-check):
// apidiff, pinned in tools/go.mod, on a work tree of the release and on
// this checkout. An incompatible change fails unless CHANGELOG.md's
// Unreleased section names it (package apicompat).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/fleetapi/fleetapi/internal/release/apicompat"
)

// packages are the public import paths.
var packages = []string{"constructs/fleetapi", "client", "agent"}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apicheck:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("apicheck", flag.ContinueOnError)
	base := fs.String("base", "", "the git revision to compare with (a release tag)")
	changelog := fs.String("changelog", "CHANGELOG.md", "the changelog")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" {
		return fmt.Errorf("-base is required: the release to compare with")
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	module, err := output(root, "go", "list", "-m")
	if err != nil {
		return err
	}
	tools := filepath.Join(root, "tools", "go.mod")
	tmp, err := os.MkdirTemp("", "apicheck")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "base")
	if _, err := output(root, "git", "worktree", "add", "--detach", tree, *base); err != nil {
		return err
	}
	defer exec.Command("git", "worktree", "remove", "--force", tree).Run()

	var changes []apicompat.Change
	for _, pkg := range packages {
		path := module + "/" + pkg
		exp := filepath.Join(tmp, strings.ReplaceAll(pkg, "/", "_")+".exp")
		if _, err := os.Stat(filepath.Join(tree, pkg)); err != nil {
			fmt.Fprintf(stdout, "%s: not in %s, nothing to compare\n", pkg, *base)
			continue
		}
		if _, err := output(tree, "go", "tool", "-modfile="+tools, "apidiff", "-w", exp, path); err != nil {
			return err
		}
		out, err := output(root, "go", "tool", "-modfile="+tools, "apidiff", "-incompatible", exp, path)
		if err != nil {
			return err
		}
		found := apicompat.Parse(out)
		fmt.Fprintf(stdout, "%s against %s: %d incompatible changes\n", pkg, *base, len(found))
		changes = append(changes, found...)
	}
	log, err := os.ReadFile(*changelog)
	if err != nil {
		return err
	}
	left := apicompat.Uncovered(changes, apicompat.Unreleased(string(log)))
	for _, c := range changes {
		mark := "named in the changelog"
		for _, l := range left {
			if l == c {
				mark = "NOT in the changelog"
			}
		}
		fmt.Fprintf(stdout, "  %s: %s (%s)\n", c.Identifier, c.What, mark)
	}
	if len(left) > 0 {
		return fmt.Errorf("%d incompatible changes of the Go API are not in %s's Unreleased section: name each (`Name`, or `Prefix*`) so that the next version says so", len(left), *changelog)
	}
	return nil
}

// output runs a command in dir and returns its standard output.
func output(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if e, ok := err.(*exec.ExitError); ok {
			msg = string(e.Stderr)
		}
		return "", fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, msg)
	}
	return strings.TrimSpace(string(out)), nil
}
