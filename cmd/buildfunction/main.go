// Command buildfunction builds the functions' binaries as synthesis does
// (package gobuild) into the directory given, one bootstrap per main
// package, and prints their sizes: `make lambdas`.
package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/fleetapi/fleetapi/internal/construct/gobuild"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: buildfunction DIR")
		os.Exit(2)
	}
	for _, pkg := range []string{gobuild.Package, gobuild.HistoryPackage} {
		out := filepath.Join(os.Args[1], path.Base(pkg), "bootstrap")
		if err := gobuild.Build(".", pkg, out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		info, err := os.Stat(out)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%s %d bytes\n", out, info.Size())
	}
}
