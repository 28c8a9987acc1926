// Command modproxy serves this checkout as a version of the FleetApi module
// from a file-based module proxy, for examples/consumer: modproxy DIR VERSION.
package main

import (
	"fmt"
	"os"

	"github.com/fleetapi/fleetapi/internal/modproxy"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: modproxy DIR VERSION")
		os.Exit(2)
	}
	if err := modproxy.Write(os.Args[1], ".", os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}
