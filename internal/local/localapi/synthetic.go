package localapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/runtime/synthetic"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// SyntheticVID is make local's synthetic vehicle.
const SyntheticVID = contract.SyntheticVIDPrefix + "local"

// Endpoints are where make local's stand-ins listen: the API (and its
// STS), the credentials provider, the MQTT broker.
type Endpoints struct {
	API, STS, Credentials, MQTT string
}

// NewSyntheticVehicle provisions make local's synthetic vehicle as its
// stage's custom resource does in AWS: a key made here, its certificate
// request signed by the local registry and attached to the thing, the
// vehicle registered in vehicles; and returns the configuration of its
// runs against the stand-ins, read back with the fleet reader's keys.
// With dir set, the key and certificate are kept there (0600) and used
// again while the registry has the certificate active.
func NewSyntheticVehicle(ctx context.Context, registry *localauth.Registry, vehicles synthetic.Registry, at Endpoints, dir string) (synthetic.Config, error) {
	cert, err := syntheticCertificate(registry, dir)
	if err != nil {
		return synthetic.Config{}, fmt.Errorf("synthetic vehicle: %w", err)
	}
	if err := synthetic.Register(ctx, vehicles, SyntheticVID, time.Now()); err != nil {
		return synthetic.Config{}, err
	}
	return SyntheticConfig(cert, registry.CAPool(), at)
}

// syntheticCertificate returns the synthetic vehicle's certificate kept in
// dir while the registry has it active, else a new one.
func syntheticCertificate(registry *localauth.Registry, dir string) (tls.Certificate, error) {
	file := filepath.Join(dir, "synthetic-vehicle.pem")
	if dir != "" {
		if pemBytes, err := os.ReadFile(file); err == nil {
			if cert, err := tls.X509KeyPair(pemBytes, pemBytes); err == nil {
				if thing, status, ok := registry.Lookup(cert.Certificate[0]); ok && thing == SyntheticVID && status == localauth.StatusActive {
					return cert, nil
				}
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: SyntheticVID}}, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	issued, err := registry.CreateFromCSR(SyntheticVID, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))
	if err != nil {
		return tls.Certificate{}, err
	}
	block, _ := pem.Decode([]byte(issued.CertificatePEM))
	cert := tls.Certificate{Certificate: [][]byte{block.Bytes}, PrivateKey: key}
	if dir != "" {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return tls.Certificate{}, err
		}
		kept := append([]byte(issued.CertificatePEM), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
		if err := os.WriteFile(file, kept, 0o600); err != nil {
			return tls.Certificate{}, err
		}
	}
	return cert, nil
}

// SyntheticConfig is the configuration of make local's synthetic vehicle
// with certificate cert, against the stand-ins at at, trusting roots.
func SyntheticConfig(cert tls.Certificate, roots *x509.CertPool, at Endpoints) (synthetic.Config, error) {
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, MinVersion: tls.VersionTLS12}
	chain, err := synthetic.NewChain(at.Credentials, localauth.RoleAlias, SyntheticVID, localauth.VehicleRole, localauth.Region, at.STS, tlsConfig)
	if err != nil {
		return synthetic.Config{}, err
	}
	mqttTLS := tlsConfig.Clone()
	if mqttTLS.ServerName, _, err = net.SplitHostPort(at.MQTT); err != nil {
		return synthetic.Config{}, fmt.Errorf("MQTT address %q: %w", at.MQTT, err)
	}
	return synthetic.Config{
		VID: SyntheticVID, Chain: chain, APIURL: at.API, MQTTAddr: at.MQTT, MQTTTLS: mqttTLS,
		Topic:  contract.BasicIngestTopic(UploadRule, SyntheticVID),
		Reader: credentials.StaticCredentialsProvider{Value: localauth.ReaderKeys}, Region: localauth.Region,
	}, nil
}
