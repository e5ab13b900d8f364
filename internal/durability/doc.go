// Package durability holds podid's durability and multi-replica tests. They
// build the podid binary, start podid serve processes on SQLite or
// PostgreSQL, drive them with the AWS SDK's eks client and EKS Auth, and
// kill them with SIGKILL in the middle of a write load: every acknowledged
// write must survive, none may be half-applied, retries against another
// replica must create no duplicates, and a change acknowledged on one
// replica must reach the others' credential path (podid wait and its API
// say when). BenchmarkPropagation measures that propagation. The package
// has no code of its own; internal/proctest starts the processes.
//
// The PostgreSQL tests skip unless TEST_POSTGRES_DSN names a server
// (ci/postgres.sh starts one and prints the variable).
package durability
