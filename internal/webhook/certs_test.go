package webhook_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podid/podid/internal/webhook"
)

// writePair writes a self-signed certificate for cn and its key.
func writePair(t *testing.T, certFile, keyFile, cn string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// As a Secret volume updates: new files, then the names point at them.
	for name, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		tmp := name + ".new"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, name); err != nil {
			t.Fatal(err)
		}
	}
}

// servedCN connects to addr and returns the CN of the certificate served.
func servedCN(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestCertFilesReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair(t, certFile, keyFile, "first")

	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func() { mu.Lock(); now = now.Add(10 * time.Second); mu.Unlock() }
	reg := prometheus.NewRegistry()
	cf, err := webhook.LoadCertFiles(webhook.CertFilesConfig{CertFile: certFile, KeyFile: keyFile, Now: clock, Metrics: webhook.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: cf.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	addr := ln.Addr().String()

	if cn := servedCN(t, addr); cn != "first" {
		t.Fatalf("serving %q, want first", cn)
	}
	writePair(t, certFile, keyFile, "second")
	if cn := servedCN(t, addr); cn != "first" {
		t.Errorf("serving %q before the check interval passed, want first", cn)
	}
	advance()
	if cn := servedCN(t, addr); cn != "second" {
		t.Errorf("serving %q after a change, want second", cn)
	}
	// A broken pair keeps the working one in service.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	advance()
	if cn := servedCN(t, addr); cn != "second" {
		t.Errorf("serving %q after a broken write, want second", cn)
	}
	// Once the pair is whole again, it is picked up.
	writePair(t, certFile, keyFile, "third")
	advance()
	if cn := servedCN(t, addr); cn != "third" {
		t.Errorf("serving %q after the repair, want third", cn)
	}
	for outcome, want := range map[string]float64{"ok": 2, "error": 1} {
		if got := metricValue(t, reg, "podid_webhook_certificate_reloads_total", outcome); got != want {
			t.Errorf("reloads{%s} = %v, want %v", outcome, got, want)
		}
	}

	if _, err := webhook.LoadCertFiles(webhook.CertFilesConfig{CertFile: certFile, KeyFile: filepath.Join(dir, "missing")}); err == nil {
		t.Error("LoadCertFiles succeeded without a key file")
	}
}
