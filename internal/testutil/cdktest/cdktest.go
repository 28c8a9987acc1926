// Package cdktest holds test helpers for code that calls the CDK through jsii.
package cdktest

import "testing"

// Check runs a CDK assertion (assertions.Template methods and the like),
// which reports a mismatch the jsii way, as a panic, and turns that panic
// into a test error that names what was checked.
func Check(t testing.TB, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}
