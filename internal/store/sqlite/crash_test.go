package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// crashChildEnv, when set, makes the test binary a writer to be killed: it
// names the database file.
const crashChildEnv = "PODID_SQLITE_CRASH_CHILD"

// TestMain lets the test binary act as the crash test's child process, or
// as TestGetSeesOtherProcessesWrites's.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		os.Exit(0)
	}
	if path := os.Getenv(writeChildEnv); path != "" {
		os.Exit(writeChild(path, os.Getenv(writeChildOpEnv)))
	}
	os.Exit(m.Run())
}

// crashChild writes associations from several goroutines, printing
// "ack <id> <revision>" after each write returns, until it is killed (or a
// bound is reached).
func crashChild(path string) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Println("error", err)
		return
	}
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "crash"}, store.WriteOptions{}); err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println("ready")
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20000 { // a bound, should the parent never kill us
				sa := fmt.Sprintf("sa-%d-%d", g, i)
				a, err := s.CreateAssociation(ctx, association("crash", "ns", sa, int64(g*100000+i)), store.WriteOptions{})
				if err == nil && i%2 == 1 {
					// Every other write is followed by an update, so
					// the crash also lands between and during updates.
					a, err = s.UpdateAssociation(ctx, "", "crash", a.ID, func(a *store.Association) error {
						a.Tags["updated"] = "yes"
						return nil
					}, store.WriteOptions{})
				}
				mu.Lock()
				if err != nil {
					fmt.Println("error", err)
				} else {
					fmt.Println("ack", a.ID, a.ServiceAccount, a.Tags["updated"] == "yes", a.Revision)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrashKeepsAcknowledgedWrites kills a writing process with SIGKILL and
// checks that every write it had acknowledged is in the reopened database,
// whole, and that the database passes its integrity check.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	type ack struct {
		id, sa  string
		updated bool
		rev     int64
	}
	const wantAcks = 400
	acks := make(chan ack, wantAcks)
	lines := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) >= 1 && f[0] == "error":
				lines <- fmt.Errorf("child: %s", sc.Text())
				return
			case len(f) == 5 && f[0] == "ack":
				a := ack{id: f[1], sa: f[2], updated: f[3] == "true"}
				fmt.Sscan(f[4], &a.rev)
				select {
				case acks <- a:
				default: // enough collected; later acks go unchecked
				}
			}
		}
		lines <- sc.Err()
	}()

	// Kill at an arbitrary moment once enough writes are acknowledged.
	deadline := time.After(2 * time.Minute)
	var got []ack
	for len(got) < wantAcks {
		select {
		case a := <-acks:
			got = append(got, a)
		case err := <-lines:
			t.Fatalf("child output ended after %d acks: %v", len(got), err)
		case <-deadline:
			t.Fatalf("only %d acks within the deadline", len(got))
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true
	// Acks printed before the kill but not yet read still count.
	for {
		select {
		case a := <-acks:
			got = append(got, a)
			continue
		default:
		}
		break
	}

	s := openTemp(t, path)
	ctx := t.Context()
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatalf("IntegrityCheck after kill -9: %v", err)
	}
	rev, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range got {
		stored, err := s.GetAssociation(ctx, "", "crash", a.id)
		if err != nil {
			t.Errorf("acknowledged association %s lost: %v", a.id, err)
			continue
		}
		if stored.ServiceAccount != a.sa || stored.RoleARN != "arn:aws:iam::000000000000:role/"+a.sa {
			t.Errorf("association %s half-applied: %+v", a.id, stored)
		}
		if a.updated && stored.Tags["updated"] != "yes" {
			t.Errorf("acknowledged update of %s lost: tags %v", a.id, stored.Tags)
		}
		if stored.Revision < a.rev || rev < a.rev {
			t.Errorf("association %s at revision %d (store at %d), acknowledged at %d", a.id, stored.Revision, rev, a.rev)
		}
	}
	// The kept count agrees with the rows.
	n, err := sqlite.AssociationCount(s, ctx, "", "crash")
	if err != nil {
		t.Fatal(err)
	}
	listed, p := 0, store.Page{Limit: 100}
	for calls := 0; calls < 10000; calls++ {
		items, next, err := s.ListAssociations(ctx, "", "crash", store.AssociationFilter{}, p)
		if err != nil {
			t.Fatal(err)
		}
		listed += len(items)
		if next == "" {
			break
		}
		p.After = next
	}
	if n != listed || n < len(got) {
		t.Errorf("kept association count = %d, listed %d, acknowledged %d", n, listed, len(got))
	}
	t.Logf("%d writes acknowledged before kill -9, %d associations found, revision %d", len(got), n, rev)
}
