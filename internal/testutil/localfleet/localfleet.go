// Package localfleet gives tests the Go client of a local test server
// (localapi.TestServer) and the fleet admin's registration of a vehicle.
// Its own package: the client's tests import the local API, which so
// cannot import the client.
package localfleet

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetapi/fleetapi/client"
	"github.com/fleetapi/fleetapi/internal/local/localapi"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
)

// Client returns a Go client of s signing with keys (localauth's
// AdminKeys, ReaderKeys).
func Client(t testing.TB, s *localapi.TestServer, keys aws.Credentials) *client.ClientWithResponses {
	t.Helper()
	c, err := client.New(context.Background(), s.URL, client.Options{Credentials: credentials.StaticCredentialsProvider{Value: keys}, Region: localauth.Region})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Register registers vehicle vid with s, as the fleet admin.
func Register(t testing.TB, s *localapi.TestServer, vid string) {
	t.Helper()
	r, err := client.RegisterVehicle(context.Background(), Client(t, s, localauth.AdminKeys), client.NewVehicle{Vid: vid, Make: "Simulated", Model: "EV", Year: 2025}, "")
	if err != nil || r.StatusCode() != 201 {
		t.Fatalf("register %s: %v %s", vid, err, r.Status())
	}
}
