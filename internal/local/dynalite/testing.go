package dynalite

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Main runs a test binary against a fresh server: it starts the server,
// gives its client to setup, runs the tests, stops the server and returns
// the exit code for os.Exit.
func Main(m *testing.M, setup func(db *dynamodb.Client)) int {
	srv, err := Start(context.Background(), Options{Instant: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Stop()
	setup(srv.Client())
	return m.Run()
}

var tableSeq atomic.Int64

// NewTables creates a fresh set of FleetApi tables for one test, so that
// tests sharing a server do not see each other's items.
func NewTables(tb testing.TB, db *dynamodb.Client) Tables {
	tb.Helper()
	n := tableSeq.Add(1)
	t := Tables{Vehicles: fmt.Sprintf("vehicles-%d", n), Events: fmt.Sprintf("vehicleEvents-%d", n), State: fmt.Sprintf("vehicleState-%d", n)}
	if err := CreateTables(context.Background(), db, t); err != nil {
		tb.Fatal(err)
	}
	return t
}
