package storecore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/podid/podid/internal/store"
)

// Placeholder writes a statement's nth parameter (from 1) as the
// backend's SQL does.
type Placeholder func(n int) string

// Question is SQLite's placeholder, "?".
func Question(int) string { return "?" }

// Dollar is PostgreSQL's placeholder, "$n".
func Dollar(n int) string { return "$" + strconv.Itoa(n) }

// ListAssociations is store.Store's ListAssociations over a backend's
// query (rows of AssociationColumns; size is a capacity hint) and
// existence check: one range of the
// (cluster, id) primary key, Limit+1 rows, the extra one only telling
// whether there is a next page; an empty page tells an empty cluster from
// a missing one.
func ListAssociations(ctx context.Context, region, cluster string, f store.AssociationFilter, p store.Page, ph Placeholder,
	query func(ctx context.Context, size int, q string, args ...any) ([]store.Association, error),
	clusterExists func(ctx context.Context, region, cluster string) error) ([]store.Association, string, error) {
	items, next, err := listAssociations(ctx, region, cluster, f, p, ph, query, clusterExists)
	if err != nil {
		return nil, "", fmt.Errorf("listing associations of cluster %q in %s: %w", cluster, region, err)
	}
	return items, next, nil
}

func listAssociations(ctx context.Context, region, cluster string, f store.AssociationFilter, p store.Page, ph Placeholder,
	query func(ctx context.Context, size int, q string, args ...any) ([]store.Association, error),
	clusterExists func(ctx context.Context, region, cluster string) error) ([]store.Association, string, error) {
	if err := CheckPage(p); err != nil {
		return nil, "", err
	}
	q := "SELECT " + AssociationColumns + " FROM associations WHERE region = " + ph(1) + " AND cluster_name = " + ph(2) + " AND id > " + ph(3)
	args := []any{region, cluster, p.After}
	if f.Namespace != "" {
		args = append(args, f.Namespace)
		q += " AND namespace = " + ph(len(args))
	}
	if f.ServiceAccount != "" {
		args = append(args, f.ServiceAccount)
		q += " AND service_account = " + ph(len(args))
	}
	args = append(args, p.Limit+1)
	q += " ORDER BY id LIMIT " + ph(len(args))
	items, err := query(ctx, min(p.Limit+1, 101), q, args...)
	if err != nil {
		return nil, "", err
	}
	if len(items) == 0 {
		if err := clusterExists(ctx, region, cluster); err != nil {
			return nil, "", err
		}
	}
	items, next := CutPage(items, p, AssociationID)
	return items, next, nil
}

// ListClusters is store.Store's ListClusters over a backend's read of up
// to p.Limit+1 of region's names after p.After, in order.
func ListClusters(ctx context.Context, region string, p store.Page, read func(ctx context.Context, region string, p store.Page) ([]string, error)) ([]string, string, error) {
	if err := CheckPage(p); err != nil {
		return nil, "", fmt.Errorf("listing clusters: %w", err)
	}
	names, err := read(ctx, region, p)
	if err != nil {
		return nil, "", fmt.Errorf("listing clusters in %s: %w", region, err)
	}
	names, next := CutPage(names, p, ClusterName)
	return names, next, nil
}

// ChangesSince is store.Store's ChangesSince over a backend's read of up
// to limit changes after a revision.
func ChangesSince(ctx context.Context, after int64, limit int, read func(ctx context.Context, after int64, limit int) ([]store.Change, error)) ([]store.Change, error) {
	if limit < 1 {
		return nil, fmt.Errorf("reading changes since revision %d: limit %d is not positive", after, limit)
	}
	changes, err := read(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading changes since revision %d: %w", after, err)
	}
	return changes, nil
}
