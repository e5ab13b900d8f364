package webhook

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// CertFiles serves the certificate and key in two PEM files, and
// reloads them when either changes (a cert-manager renewal, a Secret
// update): on a TLS handshake, at most once per CheckInterval, it stats
// the files and reads them again if one is another file or was
// modified. A pair that does not load keeps the previous one in service.
type CertFiles struct {
	certFile, keyFile string
	interval          time.Duration
	now               func() time.Time
	log               *slog.Logger
	metrics           *Metrics

	mu      sync.Mutex
	cert    *tls.Certificate
	stamps  [2]os.FileInfo
	checked time.Time
}

// CertFilesConfig configures LoadCertFiles.
type CertFilesConfig struct {
	CertFile, KeyFile string
	// CheckInterval spaces the checks for a change (default 5s).
	CheckInterval time.Duration
	// Now is the clock (default time.Now).
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
}

// LoadCertFiles loads the pair; it fails if the pair does not load.
func LoadCertFiles(cfg CertFilesConfig) (*CertFiles, error) {
	c := &CertFiles{certFile: cfg.CertFile, keyFile: cfg.KeyFile, interval: cfg.CheckInterval, now: cfg.Now, log: cfg.Logger, metrics: cfg.Metrics}
	if c.interval <= 0 {
		c.interval = 5 * time.Second
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	stamps, err := c.stat()
	if err != nil {
		return nil, err
	}
	if err := c.load(stamps); err != nil {
		return nil, err
	}
	c.checked = c.now()
	return c, nil
}

// GetCertificate is a tls.Config GetCertificate.
func (c *CertFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.checked) >= c.interval {
		c.checked = now
		if stamps, err := c.stat(); err != nil {
			c.log.Warn("webhook: checking the certificate files; serving the loaded pair", "err", err)
		} else if changed(c.stamps, stamps) {
			if err := c.load(stamps); err != nil {
				c.metrics.reload("error")
				c.log.Warn("webhook: reloading the certificate; serving the previous pair", "err", err)
			} else {
				c.metrics.reload("ok")
				c.log.Info("webhook: certificate reloaded", "cert_file", c.certFile)
			}
		}
	}
	return c.cert, nil
}

func (c *CertFiles) stat() ([2]os.FileInfo, error) {
	var s [2]os.FileInfo
	for i, name := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(name) // follows a Secret volume's symlinks
		if err != nil {
			return s, fmt.Errorf("certificate files: %w", err)
		}
		s[i] = fi
	}
	return s, nil
}

// load reads the pair; the stamps are recorded only when it loads, so a
// half-written pair is read again at the next check.
func (c *CertFiles) load(stamps [2]os.FileInfo) error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("loading %s and %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert, c.stamps = &cert, stamps
	return nil
}

func changed(old, cur [2]os.FileInfo) bool {
	for i := range old {
		if old[i] == nil || !os.SameFile(old[i], cur[i]) || !old[i].ModTime().Equal(cur[i].ModTime()) || old[i].Size() != cur[i].Size() {
			return true
		}
	}
	return false
}
