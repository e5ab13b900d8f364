package webhook

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"slices"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Lifetimes of the self-signed certificates. The serving certificate is
// issued again when less than a quarter of its life is left.
const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	leafLifetime = 365 * 24 * time.Hour
)

// The Secret keys of the CA.
const (
	SecretCertKey = "ca.crt"
	SecretKeyKey  = "ca.key"
)

// SelfSignedConfig configures NewSelfSigned.
type SelfSignedConfig struct {
	// Client reaches the API server.
	Client kubernetes.Interface
	// WebhookConfig names the MutatingWebhookConfiguration whose
	// webhooks' caBundle is set to the CA. Its clientConfig (service or
	// URL) also names the hosts the serving certificate is for.
	WebhookConfig string
	// Namespace and SecretName locate the Secret that holds the CA, so
	// that every replica serves a certificate of the same CA; the first
	// replica to start creates it.
	Namespace, SecretName string
	// Hosts are more DNS names or IP addresses for the certificate.
	Hosts []string
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// SelfSigned is a CA of the webhook's own and the serving certificate it
// issues; it keeps the webhook configuration's caBundle set to the CA.
type SelfSigned struct {
	cfg   SelfSignedConfig
	log   *slog.Logger
	ca    *x509.Certificate
	key   crypto.Signer
	caPEM []byte
	hosts []string

	mu   sync.Mutex
	leaf *tls.Certificate
}

// NewSelfSigned reads the webhook configuration (it must exist), loads
// or creates the CA, issues the serving certificate and sets caBundle.
func NewSelfSigned(ctx context.Context, cfg SelfSignedConfig) (*SelfSigned, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &SelfSigned{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	whc, err := cfg.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, cfg.WebhookConfig, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", cfg.WebhookConfig, err)
	}
	s.hosts = hostsOf(whc, cfg.Hosts)
	if len(s.hosts) == 0 {
		return nil, fmt.Errorf("MutatingWebhookConfiguration %s names no service or URL to issue a certificate for", cfg.WebhookConfig)
	}
	if err := s.loadOrCreateCA(ctx); err != nil {
		return nil, err
	}
	if _, err := s.GetCertificate(nil); err != nil {
		return nil, err
	}
	if _, err := s.PatchCABundle(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// CABundle is the CA certificate, PEM.
func (s *SelfSigned) CABundle() []byte { return s.caPEM }

// Hosts are the names and addresses the serving certificate is for.
func (s *SelfSigned) Hosts() []string { return s.hosts }

// GetCertificate is a tls.Config GetCertificate.
func (s *SelfSigned) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	if s.leaf != nil && s.leaf.Leaf.NotAfter.Sub(now) > leafLifetime/4 {
		return s.leaf, nil
	}
	leaf, err := s.issue(now)
	if err != nil {
		return nil, err
	}
	s.leaf = leaf
	return leaf, nil
}

// PatchCABundle sets every webhook's caBundle in the configuration to
// the CA; it reports whether it changed one.
func (s *SelfSigned) PatchCABundle(ctx context.Context) (bool, error) {
	api := s.cfg.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	changed := false
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		whc, err := api.Get(ctx, s.cfg.WebhookConfig, metav1.GetOptions{})
		if err != nil {
			return err
		}
		changed = false
		for i := range whc.Webhooks {
			if cc := &whc.Webhooks[i].ClientConfig; !bytes.Equal(cc.CABundle, s.caPEM) {
				cc.CABundle, changed = s.caPEM, true
			}
		}
		if !changed {
			return nil
		}
		_, err = api.Update(ctx, whc, metav1.UpdateOptions{FieldManager: "podid-webhook"})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("setting the caBundle of MutatingWebhookConfiguration %s: %w", s.cfg.WebhookConfig, err)
	}
	if changed {
		s.log.Info("webhook: caBundle set", "config", s.cfg.WebhookConfig)
	}
	return changed, nil
}

// KeepCABundle sets caBundle again every interval until ctx is done, in
// case the configuration was replaced (a re-apply of the manifests).
func (s *SelfSigned) KeepCABundle(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.PatchCABundle(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("webhook: keeping the caBundle", "err", err)
			}
		}
	}
}

func (s *SelfSigned) loadOrCreateCA(ctx context.Context) error {
	secrets := s.cfg.Client.CoreV1().Secrets(s.cfg.Namespace)
	sec, err := secrets.Get(ctx, s.cfg.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		var certPEM, keyPEM []byte
		if certPEM, keyPEM, err = newCA(s.cfg.Now()); err != nil {
			return err
		}
		sec, err = secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: s.cfg.SecretName, Namespace: s.cfg.Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "podid-webhook"}},
			Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{SecretCertKey: certPEM, SecretKeyKey: keyPEM},
		}, metav1.CreateOptions{FieldManager: "podid-webhook"})
		if apierrors.IsAlreadyExists(err) { // another replica was first
			sec, err = secrets.Get(ctx, s.cfg.SecretName, metav1.GetOptions{})
		} else if err == nil {
			s.log.Info("webhook: CA created", "secret", s.cfg.Namespace+"/"+s.cfg.SecretName)
		}
	}
	if err != nil {
		return fmt.Errorf("the CA's Secret %s/%s: %w", s.cfg.Namespace, s.cfg.SecretName, err)
	}
	pair, err := tls.X509KeyPair(sec.Data[SecretCertKey], sec.Data[SecretKeyKey])
	if err != nil {
		return fmt.Errorf("the CA in Secret %s/%s (delete it to make a new one): %w", s.cfg.Namespace, s.cfg.SecretName, err)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || !pair.Leaf.IsCA {
		return fmt.Errorf("the CA in Secret %s/%s is not a CA certificate and key (delete it to make a new one)", s.cfg.Namespace, s.cfg.SecretName)
	}
	s.ca, s.key, s.caPEM = pair.Leaf, key, sec.Data[SecretCertKey]
	return nil
}

func newCA(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "podid webhook CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func (s *SelfSigned) issue(now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: s.hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range s.hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.ca, key.Public(), s.key)
	if err != nil {
		return nil, fmt.Errorf("issuing the serving certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, s.ca.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

// hostsOf lists the names the API server will verify the webhook's
// certificate against: <service>.<namespace>.svc for a service
// reference, the URL's host otherwise, then extra.
func hostsOf(whc *admissionregistrationv1.MutatingWebhookConfiguration, extra []string) []string {
	var hosts []string
	for _, w := range whc.Webhooks {
		cc := w.ClientConfig
		switch {
		case cc.Service != nil:
			hosts = append(hosts, cc.Service.Name+"."+cc.Service.Namespace+".svc",
				cc.Service.Name+"."+cc.Service.Namespace+".svc.cluster.local")
		case cc.URL != nil:
			if u, err := url.Parse(*cc.URL); err == nil && u.Hostname() != "" {
				hosts = append(hosts, u.Hostname())
			}
		}
	}
	hosts = append(hosts, extra...)
	slices.Sort(hosts)
	return slices.Compact(hosts)
}
