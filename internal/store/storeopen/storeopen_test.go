package storeopen_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podid/podid/internal/store/storeopen"
)

func TestSQLitePath(t *testing.T) {
	for dsn, want := range map[string]string{
		"sqlite:":                  filepath.Join("/srv/podid", "podid.db"),
		"sqlite:/var/lib/podid.db": "/var/lib/podid.db",
		"sqlite:rel/podid.db":      "rel/podid.db",
		"sqlite:///abs/podid.db":   "/abs/podid.db",
	} {
		if got := storeopen.SQLitePath(dsn, "/srv/podid"); got != want {
			t.Errorf("SQLitePath(%q) = %q, want %q", dsn, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, dsn := range []string{"sqlite:", "postgres://u:p@127.0.0.1/db", "postgresql://h/db"} {
		if err := storeopen.Check(dsn); err != nil {
			t.Errorf("Check(%q) = %v, want nil", dsn, err)
		}
	}
	err := storeopen.Check("mysql://u:secret@h/db")
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "postgres:... or postgresql:... or sqlite:...") {
		t.Errorf("Check(mysql DSN) = %v, want an error naming the known schemes and not the password", err)
	}
}

func TestOpenSQLite(t *testing.T) {
	st, err := storeopen.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "podid.db"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if rev, err := st.Revision(t.Context()); err != nil || rev != 0 {
		t.Errorf("Revision of a new store = %d, %v; want 0", rev, err)
	}
}

func TestRedact(t *testing.T) {
	if got := storeopen.Redact("postgres://podid:secret@127.0.0.1:5432/db"); strings.Contains(got, "secret") {
		t.Errorf("Redact kept the password: %s", got)
	}
	if got := storeopen.Redact("sqlite:podid.db"); got != "sqlite:podid.db" {
		t.Errorf("Redact(sqlite:podid.db) = %s", got)
	}
}

// "sqlite:" keeps the database in the data directory.
func TestOpenSQLiteInDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st, err := storeopen.Open(t.Context(), "sqlite:", dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := os.Stat(filepath.Join(dir, "podid.db")); err != nil {
		t.Errorf("no database in the data directory: %v", err)
	}
}
