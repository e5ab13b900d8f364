package sqlite

// AssociationCount reads the association count the triggers keep in a
// cluster's row, for tests that check it against the rows.
var AssociationCount = (*Store).associationCount

// ProcessCPU and ProcIO measure the test process (CPU time, and a count of
// /proc/self/io) for the benchmarks of package sqlite_test.
var (
	ProcessCPU = processCPU
	ProcIO     = procIO
)

// TokenLookupsSkipped counts the client request tokens the writer knew to
// have no record, without a lookup (tokenFilter).
func TokenLookupsSkipped(s *Store) int64 { return s.w.cache.tokens.skipped }
