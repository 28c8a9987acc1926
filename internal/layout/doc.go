// Package layout holds the tests of the tree's boundaries: which program
// may link which group of packages (internal/shared, runtime, deploy,
// devtools, testutil), each checked with go list -deps. It has no code.
package layout
