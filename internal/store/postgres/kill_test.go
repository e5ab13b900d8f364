package postgres_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres"
	"github.com/podid/podid/internal/store/postgres/pgtest"
)

// envKillChild tells the test binary to act as the writer that
// TestKillDuringWrites kills.
const envKillChild = "PODID_PG_KILL_CHILD_DSN"

const (
	killWriters = 4   // goroutines creating associations in the child
	killAcks    = 150 // acknowledged writes before the kill
)

// TestKillDuringWrites runs a writer process that creates and updates
// associations from several goroutines, printing each write once the store
// acknowledged it; it kills the process with SIGKILL in the middle of the
// load, then checks that every acknowledged write is in the database, that
// at most the writes in flight were added beyond them, and that the store
// passes its integrity check (nothing half-applied).
func TestKillDuringWrites(t *testing.T) {
	if dsn := os.Getenv(envKillChild); dsn != "" {
		killChild(dsn)
		return
	}
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	s := pgtest.Open(t, dsn)
	ctx := t.Context()
	if _, err := s.CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	counter, err := s.CreateAssociation(ctx, association("a-counter000000000", "c1", "ns", "counter"), store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringWrites$", "-test.count=1")
	cmd.Env = append(os.Environ(), envKillChild+"="+dsn)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	created := map[string]bool{}
	lastUpdate := 0
	record := func(line string) {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "created":
			created[f[1]] = true
		case len(f) == 2 && f[0] == "updated":
			n, _ := strconv.Atoi(f[1])
			lastUpdate = max(lastUpdate, n)
		default:
			t.Errorf("writer printed %q", line)
		}
	}
	deadline := time.After(60 * time.Second)
	killed := false
	for !killed {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("writer exited before the kill: %v", cmd.Wait())
			}
			record(line)
			if len(created) >= killAcks {
				killed = true
			}
		case <-deadline:
			t.Logf("only %d acknowledged creates within the deadline; killing now", len(created))
			killed = true
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Lines already written before the kill are acknowledged writes too.
	for line := range lines {
		record(line)
	}
	_ = cmd.Wait()
	t.Logf("killed the writer after %d acknowledged creates and %d updates", len(created), lastUpdate)

	// A fresh store (a restarted replica) sees everything acknowledged.
	s2 := pgtest.Open(t, dsn)
	if err := s2.IntegrityCheck(ctx); err != nil {
		t.Errorf("after the kill: %v", err)
	}
	stored := map[string]bool{}
	p := store.Page{Limit: 100}
	for range 1000 {
		items, next, err := s2.ListAssociations(ctx, "", "c1", store.AssociationFilter{Namespace: "load"}, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range items {
			stored[a.ID] = true
		}
		if next == "" {
			break
		}
		p.After = next
	}
	for id := range created {
		if !stored[id] {
			t.Errorf("acknowledged create %s is missing after the kill", id)
		}
	}
	if extra := len(stored) - len(created); extra < 0 || extra > killWriters {
		t.Errorf("%d associations stored for %d acknowledged creates: want at most %d more (the writes in flight)", len(stored), len(created), killWriters)
	}
	got, err := s2.GetAssociation(ctx, "", "c1", counter.ID)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(got.Tags["n"])
	if n < lastUpdate || n > lastUpdate+1 {
		t.Errorf("counter = %d after %d acknowledged increments, want %d or %d (one in flight)", n, lastUpdate, lastUpdate, lastUpdate+1)
	}
}

// killChild is the writer process: it writes until it is killed, printing
// each acknowledged write on stdout (unbuffered, so a printed line is in the
// pipe before the next write starts).
func killChild(dsn string) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	var wg sync.WaitGroup
	for w := range killWriters {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("a-w%d%015d", w, i)
				_, err := s.CreateAssociation(ctx, association(id, "c1", "load", id), store.WriteOptions{MaxPerCluster: 5000})
				if err != nil {
					fmt.Fprintln(os.Stderr, "create:", err)
					os.Exit(2)
				}
				ack("created %s", id)
			}
		})
	}
	wg.Go(func() {
		for {
			a, err := s.UpdateAssociation(ctx, "", "c1", "a-counter000000000", func(a *store.Association) error {
				n, _ := strconv.Atoi(a.Tags["n"])
				a.Tags["n"] = strconv.Itoa(n + 1)
				return nil
			}, store.WriteOptions{})
			if err != nil {
				fmt.Fprintln(os.Stderr, "update:", err)
				os.Exit(2)
			}
			ack("updated %s", a.Tags["n"])
		}
	})
	wg.Wait()
}
