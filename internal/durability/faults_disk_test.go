package durability

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// The disk full campaign's file system and writes.
const (
	diskFullSize   = 4 << 20 // bytes of the tmpfs the store lives on
	diskFullRounds = 3       // fill, check, free
	// maxWritesUntilFull bounds the writes sent to a full disk before one
	// fails (SQLite may fit some in WAL space it already has).
	maxWritesUntilFull = 2000
)

// diskFullLog is the line podid serve logs when a write fails for want of
// space.
var diskFullLog = regexp.MustCompile(`level=ERROR msg="write refused: the disk is full`)

// TestFaultDiskFull is the campaign's full disk: podid serve on SQLite on a
// small tmpfs the test mounts, filled to the brim with a file, diskFullRounds
// times. While it is full, writes fail cleanly (a 5xx AWS error, and a log
// line saying the disk is full) and reads keep working; once the file is
// removed, writes succeed again without a restart. In the end every
// acknowledged write is there, once, and the store's integrity check
// passes. It skips where mounting is not permitted (it needs root).
func TestFaultDiskFull(t *testing.T) {
	t.Parallel()
	const cluster = "full"
	dir := mountTmpfs(t, diskFullSize)
	dsn, integrity := "sqlite:"+filepath.Join(dir, "podid.db"), sqliteIntegrity(filepath.Join(dir, "podid.db"))
	row := newFaultRow(fmt.Sprintf("disk full (SQLite on a %d MiB tmpfs)", diskFullSize>>20))
	srv := startServer(t, "podid serve", dsn)
	c := srv.eks()
	createCluster(t, c, cluster)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	l := &load{cluster: cluster, done: make(chan struct{})}
	wr := &writer{clients: []*eks.Client{c}}
	l.writers = []*writer{wr}
	i := 0
	// create sends the next create and reports whether it was
	// acknowledged; a 5xx leaves its outcome unknown (checkRecord allows
	// it whole or absent); any other failure fails the test.
	create := func() (bool, error) {
		i++
		in := &eks.CreatePodIdentityAssociationInput{RoleArn: aws.String(roleARN(fmt.Sprintf("full-%d", i))),
			Policy: aws.String(bigPolicy(i)), DisableSessionTags: aws.Bool(true), Tags: map[string]string{"writer": "full", "i": fmt.Sprint(i), "kind": "create"}}
		r := wr.newRecord(cluster, fmt.Sprintf("full-%d", i), in, true)
		err := wr.create(ctx, i, r)
		if err == nil {
			l.acks.Add(1)
			return true, nil
		}
		if !serverError(err) {
			t.Fatalf("create %d: %v; want success or a 5xx", i, err)
		}
		return false, err
	}
	for range 20 {
		if ok, err := create(); !ok {
			t.Fatalf("create before the disk is full: %v", err)
		}
	}

	for round := 1; round <= diskFullRounds; round++ {
		filler := filepath.Join(dir, "filler")
		fill(t, filler)
		row.injected++
		var failed error
		for n := 0; failed == nil; n++ {
			if n == maxWritesUntilFull {
				t.Fatalf("round %d: %d writes acknowledged on a full disk", round, n)
			}
			if _, err := create(); err != nil {
				failed = err
			}
		}
		fullSince := time.Now()
		srv.Proc.WaitLine(t, diskFullLog, 10*time.Second)
		// Every write refused on the full disk is refused the same way
		// (SQLite may still fit one in WAL space it has).
		for n := 0; failed != nil; n++ {
			if code := apiError(failed); code != "ServiceUnavailableException" {
				t.Errorf("round %d: a write on a full disk: %v; want ServiceUnavailableException (a 503)", round, failed)
			}
			if n == 5 {
				break
			}
			_, failed = create()
		}
		checkReads(ctx, t, c, l)

		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		freed := time.Now()
		if ok, err := create(); !ok {
			t.Fatalf("round %d: a write once space was freed: %v", round, err)
		}
		// No unavailability figure: writes fail exactly as long as
		// the test keeps the disk full, and reads never do.
		row.recovered(time.Since(freed))
		t.Logf("round %d: writes failed for %s, until space was freed", round, freed.Sub(fullSince).Round(time.Millisecond))
	}
	t.Run("check", func(t *testing.T) { l.check(ctx, t, c, &row.tally) })
	if err := integrity(ctx); err != nil {
		row.integrity++
		t.Errorf("integrity check after the disk was full: %v", err)
	}
	t.Logf("%d writes sent, %d acknowledged, over %d rounds of a full disk", i, l.acks.Load(), diskFullRounds)
}

// bigPolicy is a session policy of about 2 KB, the limit: it fills the
// disk faster.
func bigPolicy(i int) string {
	const head, tail = `{"Version":"2012-10-17","Statement":[{"Sid":"s%d","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::`, `/*"}]}`
	prefix := fmt.Sprintf(head, i)
	return prefix + strings.Repeat("b", 2000-len(prefix)-len(tail)) + tail
}

// checkReads checks that every acknowledged create of l can be read.
func checkReads(ctx context.Context, t *testing.T, c *eks.Client, l *load) {
	t.Helper()
	for _, r := range l.writers[0].records {
		if r.create != acked {
			continue
		}
		if _, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String(l.cluster),
			AssociationId: r.created.AssociationId}); err != nil {
			t.Fatalf("a read on the full disk: %v", err)
		}
	}
	if _, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(l.cluster)}); err != nil {
		t.Fatalf("a list on the full disk: %v", err)
	}
}

// fill writes path until the file system has no byte left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for n := len(buf); n > 0; {
		_, err := f.Write(buf[:n])
		switch {
		case errors.Is(err, syscall.ENOSPC):
			n /= 2 // to the brim: smaller and smaller writes
		case err != nil:
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory, unmounted
// when the test ends, and returns the directory. It skips the test where
// mounting is not permitted.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	err := syscall.Mount("podid-faults", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size))
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		t.Skipf("mounting a tmpfs for the full disk is not permitted here (%v): run as root", err)
	}
	if err != nil {
		t.Fatalf("mounting a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting the test's tmpfs %s: %v", dir, err)
		}
	})
	return dir
}
