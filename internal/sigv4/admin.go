package sigv4

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/podid/podid/internal/privfs"
	"github.com/podid/podid/internal/sts"
)

// AdminFile is the name of the admin credentials file in the data
// directory.
const AdminFile = "admin-credentials.json"

type adminFile struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// LoadAdmin reads the admin identity's access keys from dataDir; a file
// (or directory) that another user owns or may read or write is refused:
// one planted before the first start would name the admin's keys.
func LoadAdmin(dataDir string) (sts.Credentials, error) {
	path := filepath.Join(dataDir, AdminFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return sts.Credentials{}, fmt.Errorf("reading admin credentials: %w", err)
	}
	if err := privfs.CheckAll(dataDir, path); err != nil {
		return sts.Credentials{}, fmt.Errorf("admin credentials: %w", err)
	}
	var f adminFile
	if err := json.Unmarshal(b, &f); err != nil {
		return sts.Credentials{}, fmt.Errorf("parsing admin credentials %s: %w", path, err)
	}
	if f.AccessKeyID == "" || f.SecretAccessKey == "" {
		return sts.Credentials{}, fmt.Errorf("admin credentials %s: accessKeyId or secretAccessKey is empty", path)
	}
	return sts.Credentials{AccessKeyID: f.AccessKeyID, SecretAccessKey: f.SecretAccessKey}, nil
}

// LoadOrCreateAdmin returns the admin identity's access keys from dataDir,
// creating them (file mode 0600) on first use. created tells the caller to
// print them once.
func LoadOrCreateAdmin(dataDir string) (creds sts.Credentials, created bool, err error) {
	creds, err = LoadAdmin(dataDir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return creds, false, err
	}
	creds, err = NewAdminCredentials()
	if err != nil {
		return sts.Credentials{}, false, err
	}
	if err := privfs.MkdirAll(dataDir); err != nil {
		return sts.Credentials{}, false, fmt.Errorf("data directory: %w", err)
	}
	b, _ := json.MarshalIndent(adminFile{creds.AccessKeyID, creds.SecretAccessKey}, "", "  ")
	path := filepath.Join(dataDir, AdminFile)
	// O_EXCL: two processes starting at once must not overwrite each other.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, privfs.FileMode)
	if errors.Is(err, fs.ErrExist) {
		creds, err = LoadAdmin(dataDir)
		return creds, false, err
	}
	if err != nil {
		return sts.Credentials{}, false, fmt.Errorf("creating admin credentials: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return sts.Credentials{}, false, fmt.Errorf("writing admin credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		return sts.Credentials{}, false, fmt.Errorf("writing admin credentials: %w", err)
	}
	return creds, true, nil
}

// NewAdminCredentials returns fresh long-term keys: "AKIA" and 16
// characters of [A-Z2-7], and a 40-character secret.
func NewAdminCredentials() (sts.Credentials, error) {
	b := make([]byte, 10+30)
	if _, err := rand.Read(b); err != nil {
		return sts.Credentials{}, err
	}
	return sts.Credentials{
		AccessKeyID:     "AKIA" + base32.StdEncoding.EncodeToString(b[:10]),
		SecretAccessKey: base64.StdEncoding.EncodeToString(b[10:]),
	}, nil
}
