package client

import (
	"crypto/tls"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fleetapi/fleetapi/internal/vehicleconn"
)

// VehicleTag is the session tag of the vehicle role that names the vid
// (the construct's trust policy requires it, equal to the session name).
const VehicleTag = vehicleconn.Tag

// VehicleOptions say how a vehicle gets credentials from its X.509
// certificate: the stack outputs VehicleRoleAlias and VehicleRoleArn, the
// account's credentials endpoint, and the certificate registered for the
// vehicle's thing.
type VehicleOptions struct {
	// Endpoint is the account's credentials provider, the endpointAddress
	// of `aws iot describe-endpoint --endpoint-type iot:CredentialProvider`
	// (https:// may be left out), or the local one of make local.
	Endpoint string
	// RoleAlias is the stack output VehicleRoleAlias.
	RoleAlias string
	// ThingName is the vehicle's thing, its vid.
	ThingName string
	// CertFile and KeyFile are the vehicle certificate and its private key,
	// PEM; or Certificate holds them.
	CertFile, KeyFile string
	Certificate       *tls.Certificate
	// CAFile is the PEM of the CA the endpoint's certificate chains to.
	// Default: the system's roots (Amazon Root CA 1 for AWS IoT Core).
	CAFile string
	// VehicleRoleArn is the stack output VehicleRoleArn.
	VehicleRoleArn string
	// Region of the stack; STSEndpoint overrides STS's regional endpoint
	// (make local's).
	Region, STSEndpoint string
	// Duration of the vehicle's session: at most one hour, the limit of a
	// role assumed with a role's credentials. Default: one hour.
	Duration time.Duration
	// RefreshBefore is how long before they expire the credentials are
	// got anew. Default: 5 minutes.
	RefreshBefore time.Duration
	// HTTPClient's Timeout and CheckRedirect are kept for the credentials
	// request; its transport is not (one with the certificate is used).
	// Default: a 10 s timeout.
	HTTPClient *http.Client
}

// NewVehicleCredentials returns the credentials of a vehicle, got from its
// certificate and refreshed before they expire: the AWS IoT Core
// credentials provider exchanges the certificate (mutual TLS), naming the
// thing, for credentials of the certificate role; with them, STS
// AssumeRole starts the vehicle's session of the vehicle role, the thing
// name as session name and as tag vid, the only session those credentials
// may start. Requests signed with the result act for that vehicle alone.
func NewVehicleCredentials(o VehicleOptions) (aws.CredentialsProvider, error) {
	if o.Duration == 0 {
		o.Duration = time.Hour
	}
	tlsConfig, err := vehicleconn.TLS(o.Certificate, o.CertFile, o.KeyFile, o.CAFile, nil)
	if err != nil {
		return nil, err
	}
	timeout := 10 * time.Second
	if o.HTTPClient != nil {
		timeout = o.HTTPClient.Timeout
	}
	chain, err := vehicleconn.NewChain(o.Endpoint, o.RoleAlias, o.ThingName, o.VehicleRoleArn, o.Region, o.STSEndpoint, o.Duration, tlsConfig, timeout)
	if err != nil {
		return nil, err
	}
	if o.HTTPClient != nil {
		chain.HTTP.CheckRedirect = o.HTTPClient.CheckRedirect
	}
	// Refreshed before they expire, so that a request is never signed with
	// credentials about to lapse.
	window := o.RefreshBefore
	if window == 0 {
		window = 5 * time.Minute
	}
	return aws.NewCredentialsCache(chain, func(c *aws.CredentialsCacheOptions) { c.ExpiryWindow = window }), nil
}

// VehicleTLS is the TLS configuration of a vehicle's mutual TLS with an
// AWS IoT Core endpoint (the credentials provider, the device data
// endpoint): its certificate (cert, or certFile and keyFile, PEM) and the
// CA the endpoint chains to (caFile, PEM; "" for the system's roots,
// Amazon Root CA 1 for IoT Core).
func VehicleTLS(cert *tls.Certificate, certFile, keyFile, caFile string) (*tls.Config, error) {
	return vehicleconn.TLS(cert, certFile, keyFile, caFile, nil)
}
