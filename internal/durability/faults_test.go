package durability

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fault campaign (TestFault*): faults injected on purpose, many times
// over, each followed by checks of every acknowledged write. The go test
// default is a short run (CI); ci/faults.sh runs the long one and prints
// the table TestMain writes. Its knobs are environment variables:
const (
	// envKillCycles: kill -9 cycles per store (default 3).
	envKillCycles = "PODID_FAULT_KILL_CYCLES"
	// envOutages: PostgreSQL outages (default 2).
	envOutages = "PODID_FAULT_OUTAGES"
	// envSeed: the seed that places the faults (default: from the clock;
	// each test logs the one it used).
	envSeed = "PODID_FAULT_SEED"
	// envReport: a file the table is written to as well (stdout shows it
	// only with go test -v).
	envReport = "PODID_FAULT_REPORT"
)

// envInt returns the integer in the environment variable name, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// faultRand returns the random source that places a test's faults, from
// envSeed or the clock, and logs its seed so a run can be repeated.
func faultRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envSeed); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", envSeed, v)
		}
		seed = n
	}
	t.Logf("faults placed with %s=%d", envSeed, seed)
	return rand.New(rand.NewPCG(seed, uint64(len(t.Name()))))
}

// faultRow is one line of the campaign's table: one kind of fault on one
// store, over all its injections.
type faultRow struct {
	fault    string
	injected int
	tally    tally // the checks' findings
	// integrity: the store's integrity check failed, or the credential
	// path disagreed with the store.
	integrity int
	// longestDown: the longest time the API could not take a write.
	// recover: the longest time from the fault's end (the server
	// restarted, the database back, space freed) to writes acknowledged
	// again and every replica's credential path following.
	longestDown, recover time.Duration
}

func (r *faultRow) down(d time.Duration)      { r.longestDown = max(r.longestDown, d) }
func (r *faultRow) recovered(d time.Duration) { r.recover = max(r.recover, d) }

// campaign holds the rows of the tests that ran.
var campaign struct {
	mu   sync.Mutex
	rows []*faultRow
}

// newFaultRow adds a row to the table.
func newFaultRow(fault string) *faultRow {
	r := &faultRow{fault: fault}
	campaign.mu.Lock()
	defer campaign.mu.Unlock()
	campaign.rows = append(campaign.rows, r)
	return r
}

// writeFaultTable writes the campaign's table (a Markdown table, as the
// README shows it) if any fault test ran.
func writeFaultTable(w io.Writer) {
	campaign.mu.Lock()
	defer campaign.mu.Unlock()
	if len(campaign.rows) == 0 {
		return
	}
	rows := slices.Clone(campaign.rows)
	slices.SortStableFunc(rows, func(a, b *faultRow) int { return strings.Compare(a.fault, b.fault) })
	ms := func(d time.Duration) string {
		if d == 0 {
			return "-"
		}
		return d.Round(time.Millisecond).String()
	}
	fmt.Fprintln(w, "| fault | injected | acknowledged writes checked | lost | duplicated | integrity failures | longest unavailability | time to recover |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|")
	var total faultRow
	for _, r := range rows {
		integrity := int64(r.integrity) + r.tally.wrong.Load()
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %s | %s |\n", r.fault, r.injected, r.tally.checked.Load(),
			r.tally.lost.Load(), r.tally.duplicated.Load(), integrity, ms(r.longestDown), ms(r.recover))
		total.injected += r.injected
		total.tally.checked.Add(r.tally.checked.Load())
		total.tally.lost.Add(r.tally.lost.Load())
		total.tally.duplicated.Add(r.tally.duplicated.Load())
		total.integrity += int(integrity)
		total.down(r.longestDown)
		total.recovered(r.recover)
	}
	fmt.Fprintf(w, "| **all** | %d | %d | %d | %d | %d | %s | %s |\n", total.injected, total.tally.checked.Load(),
		total.tally.lost.Load(), total.tally.duplicated.Load(), total.integrity, ms(total.longestDown), ms(total.recover))
}

// reportFaults prints the table to stdout and to envReport's file.
func reportFaults() error {
	writeFaultTable(os.Stdout)
	path := os.Getenv(envReport)
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	writeFaultTable(f)
	return f.Close()
}
