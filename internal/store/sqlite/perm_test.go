package sqlite_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// The database, its -wal and -shm hold the sealing and signing keys: 0600
// whatever the umask, the directory podid makes 0700.
func TestFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "podid.db")
	s := openTemp(t, path)
	if _, err := s.CreateCluster(t.Context(), store.Cluster{Name: "c"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(p), got)
		}
	}
	if info, _ := os.Stat(dir); info.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %04o, want 0700", info.Mode().Perm())
	}
}

func TestRefusesSharedFiles(t *testing.T) {
	for _, suffix := range []string{"", "-wal"} {
		path := filepath.Join(t.TempDir(), "podid.db")
		if err := os.WriteFile(path+suffix, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path+suffix, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := sqlite.Open(t.Context(), path)
		if err == nil {
			s.Close()
			t.Fatalf("%q: opened a 0644 store file", suffix)
		}
		if !strings.Contains(err.Error(), "chmod 600 "+path+suffix) {
			t.Errorf("%q: error %q does not say how to fix it", suffix, err)
		}
	}
}
