package client_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetapi/fleetapi/client"
)

// A backend registers a vehicle. Its requests are signed with SigV4 for
// execute-api; the create carries an Idempotency-Key, so that a retry after
// a lost answer gets the stored vehicle (200), not a conflict. (The server
// here stands in for the stage; it answers what the API would.)
func ExampleRegisterVehicle() {
	stage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		signed := strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
		fmt.Println(r.Method, r.URL.Path, "signed:", signed, "key:", r.Header.Get("Idempotency-Key") != "")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"vid":"WBY1Z21000V123456","make":"BMW","model":"i3","year":2017,"version":1,"createdAt":"2026-12-01T10:00:00Z","updatedAt":"2026-12-01T10:00:00Z"}`)
	}))
	defer stage.Close()

	ctx := context.Background()
	c, err := client.New(ctx, stage.URL, client.Options{
		Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}},
		Region:      "eu-west-1",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := client.RegisterVehicle(ctx, c, client.NewVehicle{Vid: "WBY1Z21000V123456", Make: "BMW", Model: "i3", Year: 2017}, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.StatusCode(), res.JSON201.Vid, "version", res.JSON201.Version)
	// Output:
	// POST /vehicles signed: true key: true
	// 201 WBY1Z21000V123456 version 1
}
