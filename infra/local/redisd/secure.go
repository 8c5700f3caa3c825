package redisd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Secure configures a server the way a managed Redis runs: TLS only (no
// plain port), and AUTH with an ACL user of limited rights next to an
// administrator.
type Secure struct {
	// User and Password are the limited user; ACL is the rest of its ACL
	// rule ("~ndr:* &ndr:* -@all +get ..."), without "on" and the password.
	User, Password, ACL string
	// AdminPassword is the default user's password (full rights, for the
	// harness). Empty: a random one.
	AdminPassword string
}

// SecureServer is a running TLS + ACL redis-server.
type SecureServer struct {
	*Server
	Secure
	// CAPEM is the certificate authority that signed the server's
	// certificate, PEM-encoded: what a client must trust.
	CAPEM []byte
}

// StartSecure generates a certificate authority and a server certificate
// for 127.0.0.1 (crypto/x509, valid for a day), and starts redis-server with
// TLS on and the plain port off, the limited user of sec, and the default
// user behind AdminPassword. Debian's redis-server 7.0 is built with TLS.
func StartSecure(ctx context.Context, sec Secure) (*SecureServer, error) {
	certs, err := newCertDir()
	if err != nil {
		return nil, err
	}
	s, err := startSecure(ctx, &sec, certs)
	if err != nil {
		os.RemoveAll(certs.dir)
		return nil, err
	}
	s.extraDirs = append(s.extraDirs, certs.dir)
	return s, nil
}

// certDir holds a CA, and a certificate for 127.0.0.1 it signed.
type certDir struct {
	dir   string
	caPEM []byte
	pool  *x509.CertPool
}

func newCertDir() (*certDir, error) {
	dir, err := os.MkdirTemp("", "ndrtrace-redis-tls-")
	if err != nil {
		return nil, err
	}
	caPEM, certPEM, keyPEM, err := certificates()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for name, b := range map[string][]byte{"ca.crt": caPEM, "redis.crt": certPEM, "redis.key": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &certDir{dir: dir, caPEM: caPEM, pool: pool}, nil
}

func (c *certDir) tls() *tls.Config {
	return &tls.Config{RootCAs: c.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func startSecure(ctx context.Context, sec *Secure, certs *certDir, extra ...string) (*SecureServer, error) {
	if sec.AdminPassword == "" {
		sec.AdminPassword = randomHex(16)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	admin := &redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Password: sec.AdminPassword,
		TLSConfig: certs.tls(), MaxRetries: -1}
	args := []string{
		"--port", "0", "--tls-port", strconv.Itoa(port),
		"--tls-cert-file", filepath.Join(certs.dir, "redis.crt"), "--tls-key-file", filepath.Join(certs.dir, "redis.key"),
		"--tls-ca-cert-file", filepath.Join(certs.dir, "ca.crt"), "--tls-auth-clients", "no",
		"--requirepass", sec.AdminPassword,
	}
	args = append(args, extra...)
	args = append(args, "--user", sec.User, "on", ">"+sec.Password)
	srv, err := start(ctx, admin, append(args, strings.Fields(sec.ACL)...))
	if err != nil {
		return nil, err
	}
	return &SecureServer{Server: srv, Secure: *sec, CAPEM: certs.caPEM}, nil
}

// SecureCluster is a Redis Cluster of TLS + ACL servers (one CA).
type SecureCluster struct {
	Cluster
	CAPEM []byte
	dir   string
}

// Stop stops every node.
func (c *SecureCluster) Stop() {
	c.Cluster.Stop()
	os.RemoveAll(c.dir)
}

// StartSecureCluster starts n masters like StartSecure's (TLS on the
// client port and the cluster bus, the same users on each) and joins them.
func StartSecureCluster(ctx context.Context, sec Secure, n int) (*SecureCluster, error) {
	// redis-cli waits for the nodes to join without a bound of its own.
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	certs, err := newCertDir()
	if err != nil {
		return nil, err
	}
	if sec.AdminPassword == "" {
		sec.AdminPassword = randomHex(16)
	}
	c := &SecureCluster{CAPEM: certs.caPEM, dir: certs.dir}
	for i := 0; i < n; i++ {
		s, err := startSecure(ctx, &sec, certs, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000", "--tls-cluster", "yes", "--masterauth", sec.AdminPassword)
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, s.Server)
	}
	server, _ := Binary()
	cli := filepath.Join(filepath.Dir(server), "redis-cli")
	args := append([]string{"--tls", "--cacert", filepath.Join(certs.dir, "ca.crt"), "--no-auth-warning", "-a", sec.AdminPassword, "--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v: %s", err, out)
	}
	if err := c.waitOK(ctx, func(addr string) *redis.Options {
		return &redis.Options{Addr: addr, Password: sec.AdminPassword, TLSConfig: &tls.Config{RootCAs: certs.pool, MinVersion: tls.VersionTLS12}}
	}); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// URL is the REDIS_URL of the limited user: rediss://user:password@host/0.
func (s *SecureServer) URL() string {
	u := url.URL{Scheme: "rediss", User: url.UserPassword(s.User, s.Password), Host: s.Addr, Path: "/0"}
	return u.String()
}

// Admin is a client with the default user's full rights, for test set-up.
func (s *SecureServer) Admin() *redis.Client { return redis.NewClient(s.admin) }

func certificates() (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ndrtrace test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("redisd: no randomness"))
	}
	return fmt.Sprintf("%x", b)
}
