package localapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/fleetapi/fleetapi/internal/local/localauth"
)

// credentialsFor asks the local credentials provider, over mutual TLS
// with cert, for the certificate role's credentials, naming thing.
func credentialsFor(t *testing.T, local *TestServer, cert tls.Certificate, thing string) aws.Credentials {
	t.Helper()
	c, status := tryCredentials(t, local, cert, thing)
	if status != http.StatusOK {
		t.Fatalf("credentials for %s: %d", thing, status)
	}
	return c
}

func tryCredentials(t *testing.T, local *TestServer, cert tls.Certificate, thing string) (aws.Credentials, int) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(local.CAPEM)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots}}}
	req, _ := http.NewRequest(http.MethodGet, local.CredentialsURL+"/role-aliases/"+localauth.RoleAlias+"/credentials", nil)
	if thing != "" {
		req.Header.Set("x-amzn-iot-thingname", thing)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("credentials provider: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc struct {
		Credentials struct{ AccessKeyID, SecretAccessKey, SessionToken string } `json:"credentials"`
	}
	json.Unmarshal(body, &doc)
	return aws.Credentials{AccessKeyID: doc.Credentials.AccessKeyID, SecretAccessKey: doc.Credentials.SecretAccessKey, SessionToken: doc.Credentials.SessionToken}, resp.StatusCode
}

// assumeVehicleRole starts a session of the vehicle role with creds,
// naming session and tag vid; it fails the test if STS refuses.
func assumeVehicleRole(t *testing.T, local *TestServer, creds aws.Credentials, session, tag string) aws.Credentials {
	t.Helper()
	c, err := tryAssume(local, creds, session, tag)
	if err != nil {
		t.Fatalf("assume the vehicle role as %s (tag %s): %v", session, tag, err)
	}
	return c
}

func tryAssume(local *TestServer, creds aws.Credentials, session, tag string) (aws.Credentials, error) {
	client := sts.New(sts.Options{Region: localauth.Region, BaseEndpoint: aws.String(local.STSURL), Credentials: credentials.StaticCredentialsProvider{Value: creds}})
	in := &sts.AssumeRoleInput{RoleArn: aws.String(localauth.VehicleRole), RoleSessionName: aws.String(session)}
	if tag != "" {
		in.Tags = []ststypes.Tag{{Key: aws.String("vid"), Value: aws.String(tag)}}
	}
	out, err := client.AssumeRole(context.Background(), in)
	if err != nil {
		return aws.Credentials{}, err
	}
	return aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}, nil
}
