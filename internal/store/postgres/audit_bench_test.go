package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podid/podid/internal/store/postgres/pgtest"
	"github.com/podid/podid/internal/store/storetest"
)

// BenchmarkAppendEventsAt appends batches of 50 Update-shaped events to a
// trail holding none and (with PODID_AUDIT_SCALE=1) a million events
// already, reporting per event the PostgreSQL server's CPU (its
// processes': the server must run on this machine), this process's (the
// store's encoding and protocol; the benchmark's own loop makes the
// events) and the WAL the server wrote:
//
//	eval "$(ci/postgres.sh)"
//	PODID_AUDIT_SCALE=1 go test -run '^$' -bench AppendEventsAt -benchtime 2000x ./internal/store/postgres/
func BenchmarkAppendEventsAt(b *testing.B) {
	record := storetest.EventRecord()
	for _, existing := range []int{0, 1_000_000} {
		b.Run(fmt.Sprint(existing), func(b *testing.B) {
			ctx := context.Background()
			dsn := pgtest.Schema(b, pgtest.DSN(b))
			st := pgtest.Open(b, dsn)
			storetest.SeedEvents(ctx, b, st, existing, record)
			postmaster := postmasterOf(b, dsn)
			wal := walMeter(b, dsn)
			cpu0, self0 := serverTicks(b, postmaster), processCPU()
			const batch = 50
			n := 0
			b.ResetTimer()
			for b.Loop() {
				if err := st.AppendEvents(ctx, storetest.UpdateEvents(batch, existing+n, record)); err != nil {
					b.Fatal(err)
				}
				n += batch
			}
			b.StopTimer()
			cpu, self := serverTicks(b, postmaster)-cpu0, processCPU()-self0
			b.ReportMetric(float64(cpu)*1e4/float64(n), "server-cpu-us/event") // 100 ticks a second
			b.ReportMetric(float64(self.Microseconds())/float64(n), "podid-cpu-us/event")
			b.ReportMetric(float64(wal())/float64(n), "wal-bytes/event")
		})
	}
}

// postmasterOf returns the process ID of the PostgreSQL server at dsn
// (which must run on this machine): the parent of a backend.
func postmasterOf(b *testing.B, dsn string) int {
	b.Helper()
	conn, err := pgx.Connect(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	var pid int
	if err := conn.QueryRow(b.Context(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		b.Fatal(err)
	}
	return procStat(b, pid).ppid
}

// walMeter reads the server's WAL position at dsn now and returns a
// function that returns how many bytes of WAL the server has written since.
func walMeter(b *testing.B, dsn string) func() int64 {
	b.Helper()
	conn, err := pgx.Connect(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(context.Background()) })
	var lsn0 string
	if err := conn.QueryRow(b.Context(), "SELECT pg_current_wal_lsn()::text").Scan(&lsn0); err != nil {
		b.Fatal(err)
	}
	return func() int64 {
		var n int64
		if err := conn.QueryRow(context.Background(), "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint", lsn0).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
}

// processCPU is this process's CPU time (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type stat struct {
	ppid  int
	ticks int64 // utime + stime
}

// procStat reads PID's parent and CPU ticks.
func procStat(b *testing.B, pid int) stat {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("reading the server's CPU time (is PostgreSQL on this machine?): %v", err)
	}
	return parseStat(raw)
}

// parseStat reads a /proc/PID/stat line's parent and CPU ticks.
func parseStat(raw []byte) stat {
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return stat{ppid, ut + st}
}

// serverTicks is the CPU ticks of postmaster's children (the backends, WAL
// writer, checkpointer) alive now.
func serverTicks(b *testing.B, postmaster int) int64 {
	b.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if s := parseStat(raw); s.ppid == postmaster {
			total += s.ticks
		}
	}
	return total
}

// BenchmarkLookupEventsAt is storetest.BenchLookupEventsAt on PostgreSQL
// (SQLite's benchmark of the same name is too):
//
//	eval "$(ci/postgres.sh)"
//	go test -run '^$' -bench LookupEventsAt ./internal/store/postgres/
func BenchmarkLookupEventsAt(b *testing.B) {
	dsn := pgtest.Schema(b, pgtest.DSN(b))
	storetest.BenchLookupEventsAt(b, pgtest.Open(b, dsn), func() {
		pgtest.Exec(b, dsn, "ANALYZE audit_events")
	})
}
