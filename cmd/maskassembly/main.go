// Command maskassembly copies a synthesized cloud assembly with the asset
// hashes of its templates masked, the form in which snapshots are committed.
//
//	go run ./cmd/maskassembly cdk.out/prod cdk.out/prod.masked
package main

import (
	"fmt"
	"os"

	"github.com/fleetapi/fleetapi/internal/release/snapshot"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: maskassembly CLOUD_ASSEMBLY_DIR OUT_DIR")
		os.Exit(2)
	}
	if err := snapshot.MaskAssembly(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintf(os.Stderr, "maskassembly: %v\n", err)
		os.Exit(1)
	}
}
