package localauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Certificate statuses, as AWS IoT Core names them.
const (
	StatusActive  = "ACTIVE"
	StatusRevoked = "REVOKED"
)

// Registry is the local thing registry: a certificate authority that signs
// vehicle certificates, and which certificate is attached to which thing.
type Registry struct {
	dir    string
	ca     *x509.Certificate
	caKey  crypto.Signer
	mu     sync.Mutex
	things map[string]bool
	certs  map[string]*certificate // by certificate ID
}

type certificate struct {
	PEM    string `json:"pem"`
	Thing  string `json:"thing"`
	Status string `json:"status"`
}

// thingName is AWS IoT Core's pattern of thing names.
var thingName = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)

// OpenRegistry opens the registry kept in dir (its CA and certificates
// survive restarts, like make local's data), creating it when missing;
// dir "" keeps it in memory.
func OpenRegistry(dir string) (*Registry, error) {
	r := &Registry{dir: dir, things: map[string]bool{}, certs: map[string]*certificate{}}
	if dir != "" {
		if err := r.load(); err == nil {
			return r, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("local registry in %s: %w", dir, err)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "FleetApi local CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	if r.ca, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	r.caKey = key
	return r, r.saveCA()
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// CAPEM is the local CA's certificate: what clients trust for the local
// credentials endpoint, as devices trust Amazon Root CA 1.
func (r *Registry) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.ca.Raw})
}

// CAPool is a pool of the local CA alone.
func (r *Registry) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(r.ca)
	return pool
}

// ServerTLS is the TLS configuration of the local credentials endpoint: a
// certificate for 127.0.0.1 and localhost from the local CA, and client
// certificates required, verified against it.
func (r *Registry) ServerTLS() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(0, 0, 30),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.ca, key.Public(), r.caKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    r.CAPool(),
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// CertificateID is AWS IoT Core's ID of a certificate: the hex SHA-256 of
// its DER bytes.
func CertificateID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// Issued is a certificate the registry signed and attached to a thing.
type Issued struct {
	CertificateID  string `json:"certificateId"`
	CertificateArn string `json:"certificateArn"`
	CertificatePEM string `json:"certificatePem"`
}

// CreateFromCSR signs a certificate request for a thing, creating the
// thing, and attaches the certificate to it and to the vehicles' IoT
// policy: what fleet provisioning, or create-certificate-from-csr with
// attach-thing-principal and attach-policy, do on a deployed stage.
func (r *Registry) CreateFromCSR(thing string, csrPEM []byte) (Issued, error) {
	if !thingName.MatchString(thing) {
		return Issued{}, fmt.Errorf("thing name %q: want 1 to 128 letters, digits, ':', '_' or '-'", thing)
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return Issued{}, errors.New("not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		return Issued{}, fmt.Errorf("certificate request: %v", cmpErr(err, csr))
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: thing},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.ca, csr.PublicKey, r.caKey)
	if err != nil {
		return Issued{}, err
	}
	id := CertificateID(der)
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	r.mu.Lock()
	r.things[thing] = true
	r.certs[id] = &certificate{PEM: certPEM, Thing: thing, Status: StatusActive}
	r.mu.Unlock()
	return Issued{CertificateID: id, CertificateArn: "arn:aws:iot:" + Region + ":" + Account + ":cert/" + id, CertificatePEM: certPEM}, r.save()
}

func cmpErr(err error, csr *x509.CertificateRequest) error {
	if err != nil {
		return err
	}
	return csr.CheckSignature()
}

// Revoke marks a certificate revoked: the credentials provider refuses it
// from then on (update-certificate --new-status REVOKED).
func (r *Registry) Revoke(id string) error {
	r.mu.Lock()
	c, ok := r.certs[id]
	if ok {
		c.Status = StatusRevoked
	}
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("no certificate %s", id)
	}
	return r.save()
}

// Lookup returns a certificate's thing and status by its DER bytes.
func (r *Registry) Lookup(der []byte) (thing, status string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.certs[CertificateID(der)]
	if !ok {
		return "", "", false
	}
	return c.Thing, c.Status, true
}

// The files of a registry kept on disk.
const (
	caFile       = "ca.pem"
	caKeyFile    = "ca-key.pem"
	registryFile = "registry.json"
)

// saveCA writes the CA's certificate and key, once, when it is made.
func (r *Registry) saveCA() error {
	if r.dir == "" {
		return nil
	}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(r.caKey)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(r.dir, caKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(r.dir, caFile), r.CAPEM()); err != nil {
		return err
	}
	return r.save()
}

// save writes the certificates and their things.
func (r *Registry) save() error {
	if r.dir == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	data, err := json.MarshalIndent(r.certs, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(r.dir, registryFile), data)
}

// writeFile replaces a file whole (a reader never sees it half written).
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (r *Registry) load() error {
	caPEM, err := os.ReadFile(filepath.Join(r.dir, caFile))
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(filepath.Join(r.dir, caKeyFile))
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(r.dir, registryFile))
	if err != nil {
		return err
	}
	block, _ := pem.Decode(caPEM)
	keyBlock, _ := pem.Decode(keyPEM)
	if block == nil || keyBlock == nil {
		return errors.New("CA files are not PEM")
	}
	if r.ca, err = x509.ParseCertificate(block.Bytes); err != nil {
		return err
	}
	key, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		return err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return errors.New("CA key cannot sign")
	}
	r.caKey = signer
	if err := json.Unmarshal(data, &r.certs); err != nil {
		return err
	}
	for _, c := range r.certs {
		r.things[c.Thing] = true
	}
	return nil
}

// HasThing reports whether a thing is registered.
func (r *Registry) HasThing(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.things[name]
}

// Provision registers a new certificate for vehicle vid with the local
// API at apiURL, as the fleet admin: it makes a key and a certificate
// request, and returns the certificate the registry signed (attached to
// the thing vid) with its key, and the certificate's ID.
func Provision(ctx context.Context, apiURL, vid string) (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: vid}}, key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	body := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(apiURL, "/")+ProvisioningPath+"/certificates?thing="+url.QueryEscape(vid), bytes.NewReader(body))
	if err != nil {
		return tls.Certificate{}, "", err
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, AdminKeys, req, hex.EncodeToString(sum[:]), "iot", Region, time.Now()); err != nil {
		return tls.Certificate{}, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("provision %s: %w", vid, err)
	}
	defer resp.Body.Close()
	var issued Issued
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &issued) != nil {
		return tls.Certificate{}, "", fmt.Errorf("provision %s: %s %.200s", vid, resp.Status, data)
	}
	block, _ := pem.Decode([]byte(issued.CertificatePEM))
	if block == nil {
		return tls.Certificate{}, "", fmt.Errorf("provision %s: no certificate in the answer", vid)
	}
	return tls.Certificate{Certificate: [][]byte{block.Bytes}, PrivateKey: key}, issued.CertificateID, nil
}

// IsLocalURL says whether an API's URL is make local's, on this machine
// (plain HTTP on a loopback address): the one Provision and the local keys
// work with.
func IsLocalURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || net.ParseIP(h).IsLoopback()
}

// WriteCertificate writes a certificate Provision issued and its private
// key as PEM files (0600), for programs that read a vehicle's from files.
func WriteCertificate(cert tls.Certificate, certFile, keyFile string) error {
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return fmt.Errorf("vehicle key: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600)
}
