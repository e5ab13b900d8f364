package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// StartPostgres is Config.Store's value that has the bench start a
// PostgreSQL server of its own.
const StartPostgres = "postgres"

// pgServer is a throwaway PostgreSQL server the bench started, as
// ci/postgres.sh starts the tests' one: the Debian packages' initdb and
// pg_ctl, a cluster owned by the postgres user when the bench runs as root
// (the server refuses root), listening on 127.0.0.1 only, password
// authentication over TCP, and PostgreSQL's durable defaults (fsync on,
// synchronous_commit on).
type pgServer struct {
	bin, dir string
	owner    *user.User // nil: this process's user
	dsn      string     // postgres://podid:...@127.0.0.1:PORT/podid
}

// pgPassword is the throwaway server's password (loopback only, removed
// with the run).
const pgPassword = "podid"

// startPostgres initialises and starts a server in a new directory under
// the system's temporary directory (the postgres user must reach it, which
// a private work directory would not allow).
func startPostgres(ctx context.Context) (*pgServer, error) {
	bin, err := findPGBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "podid-bench-pg-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		if s.owner, err = user.Lookup("postgres"); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user to own its cluster: %w", err)
		}
		uid, _ := strconv.Atoi(s.owner.Uid)
		gid, _ := strconv.Atoi(s.owner.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := s.start(ctx); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// findPGBin returns the newest /usr/lib/postgresql/VERSION/bin with initdb.
func findPGBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("--store postgres: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin " +
		"(install Debian's postgresql package, as ci/postgres.sh does, or pass --store postgres://... for a running server)")
}

func (s *pgServer) start(ctx context.Context) error {
	data := filepath.Join(s.dir, "data")
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(pgPassword+"\n"), 0o600); err != nil {
		return err
	}
	if err := s.chown(pwfile); err != nil {
		return err
	}
	if _, err := s.run(ctx, "initdb", "-D", data, "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile="+pwfile); err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	_, port, _ := strings.Cut(addr, ":")
	if _, err := s.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "60", "start",
		"-o", "-p "+port+" -k "+s.dir+" -c listen_addresses=127.0.0.1 -c max_connections=300"); err != nil {
		return fmt.Errorf("%w; server log:\n%s", err, tail(filepath.Join(s.dir, "server.log")))
	}
	admin := "postgres://postgres:" + pgPassword + "@127.0.0.1:" + port + "/postgres?sslmode=disable"
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connecting to the bench's PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{"CREATE ROLE podid LOGIN PASSWORD '" + pgPassword + "'", "CREATE DATABASE podid OWNER podid"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("preparing the bench's PostgreSQL (%s): %w", q, err)
		}
	}
	s.dsn = "postgres://podid:" + pgPassword + "@127.0.0.1:" + port + "/podid?sslmode=disable"
	return nil
}

// stop stops the server (fast shutdown) and removes its directory.
func (s *pgServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := filepath.Join(s.dir, "data")
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		_, _ = s.run(ctx, "pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "stop")
	}
	os.RemoveAll(s.dir)
}

// cpuTime returns the user+system CPU time the server has used: the
// postmaster's own and its reaped children's (the backends of connections
// that closed), and its live children's.
func (s *pgServer) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, fmt.Errorf("reading the postmaster's pid: %w", err)
	}
	total, err := procCPU(pid, true)
	if err != nil {
		return 0, err
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if ppid, err := parentPID(child); err != nil || ppid != pid {
			continue // gone meanwhile, or not the postmaster's
		}
		if d, err := procCPU(child, false); err == nil {
			total += d
		}
	}
	return total, nil
}

// run runs one of the server's programs as the cluster's owner.
func (s *pgServer) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.owner != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", s.owner.Username, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s: %w\n%s", prog, err, out.Bytes())
	}
	return out.Bytes(), nil
}

func (s *pgServer) chown(path string) error {
	if s.owner == nil {
		return nil
	}
	uid, _ := strconv.Atoi(s.owner.Uid)
	gid, _ := strconv.Atoi(s.owner.Gid)
	return os.Chown(path, uid, gid)
}

// tail returns the end of a file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
