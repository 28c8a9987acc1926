// Package layout holds the tests of the tree's boundaries: which program
// may link which group of packages (internal/shared, runtime, construct,
// app, the tool groups ops, local, bench and release, testutil), each
// checked with go list -deps; and that git tracks no build output. It has
// no code.
package layout
