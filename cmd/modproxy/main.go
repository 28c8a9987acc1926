// Command modproxy serves this checkout as a version of the FleetApi module
// from a file-based module proxy, for examples/consumer: modproxy DIR BASE
// prints the version served (BASE and a hash of the checkout's files), and
// prunes the versions served before from the module cache.
package main

import (
	"fmt"
	"os"

	"github.com/fleetapi/fleetapi/internal/release/modproxy"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: modproxy DIR BASE")
		os.Exit(2)
	}
	version, err := modproxy.Write(os.Args[1], ".", os.Args[2])
	if err == nil {
		err = modproxy.PruneCache(os.Args[2], version)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
	fmt.Println(version)
}
