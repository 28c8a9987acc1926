// Command buildfunction builds the functions' bootstrap as synthesis does
// (package gobuild) into the path given, and prints its size: `make lambdas`.
package main

import (
	"fmt"
	"os"

	"github.com/fleetapi/fleetapi/internal/construct/gobuild"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: buildfunction OUTPUT")
		os.Exit(2)
	}
	if err := gobuild.Build(".", gobuild.Package, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	info, err := os.Stat(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s %d bytes\n", os.Args[1], info.Size())
}
