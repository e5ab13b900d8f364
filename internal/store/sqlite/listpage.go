package sqlite

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

// A List page of associations comes back from SQLite as one row: the
// count of the page's rows and their records concatenated, each field
// written as pageRecordFormat says (a text field as its length in bytes,
// a colon and its bytes; an integer in decimal and a comma). Stepping
// through a hundred rows of fifteen columns costs the driver a locked call
// per column and per row (sqlite3_column_* under the connection's mutex,
// then database/sql's conversions and a string per column), which was
// most of a page's CPU; the one row costs one call, and the page's strings
// are cut from the one string that holds it.
//
// The page's records share that string, so an association a caller keeps
// keeps the page's text (tens of KiB) alive with it; List's callers answer
// a request with the page and drop it.

// pageRecordFormat writes one row of associationColumns (in that order).
const pageRecordFormat = `printf('%d:%s%d:%s%d:%s%d:%s%d:%s%d:%s%d:%s%d:%s%d:%s%d,%d:%s%d:%s%d,%d,%d,',
	octet_length(region), region, octet_length(id), id, octet_length(cluster_name), cluster_name,
	octet_length(namespace), namespace, octet_length(service_account), service_account,
	octet_length(role_arn), role_arn, octet_length(target_role_arn), target_role_arn,
	octet_length(external_id), external_id, octet_length(policy), policy, disable_session_tags,
	octet_length(owner_arn), owner_arn, octet_length(tags), tags, created_at, modified_at, revision)`

// queryAssociationPage runs query (of associationColumns, ordered by id) on
// the read pool as one row, and decodes its records. A page whose text
// does not decode (a value SQLite's printf cannot carry, such as a NUL in
// a string) is read again row by row.
func (s *Store) queryAssociationPage(ctx context.Context, size int, query string, args ...any) ([]store.Association, error) {
	n, page, err := s.queryJoined(ctx, pageQuery(query), args...)
	if err != nil {
		return nil, err
	}
	items, ok := decodeAssociationPage(page, n, size)
	if !ok {
		return s.queryAssociations(ctx, size, query, args...)
	}
	if !slices.IsSortedFunc(items, byID) {
		// group_concat takes the subquery's rows in order in practice;
		// SQLite does not promise it, so check. The set is right either way.
		slices.SortFunc(items, byID)
	}
	return items, nil
}

// queryJoined runs query, whose one row is a count of rows and their
// values joined in one text, on the read pool.
func (s *Store) queryJoined(ctx context.Context, query string, args ...any) (n int, joined string, err error) {
	row, err := s.queryRow(ctx, query, args...)
	if err == nil {
		err = row.Scan(&n, &joined)
	}
	return n, joined, err
}

// pageQuery is query (of associationColumns) as one row: its count and
// its records in pageRecordFormat.
func pageQuery(query string) string {
	return "SELECT count(*), coalesce(group_concat(" + pageRecordFormat + ", ''), '') FROM (" + query + ")"
}

func byID(a, b store.Association) int { return strings.Compare(a.ID, b.ID) }

// decodeAssociationPage decodes n records of pageRecordFormat from page;
// false unless it holds exactly that.
func decodeAssociationPage(page string, n, size int) ([]store.Association, bool) {
	items := make([]store.Association, 0, max(n, size))
	d := pageDecoder{s: page, ok: true}
	for range n {
		var a store.Association
		var tags string
		var disable, created, modified int64
		d.text(&a.Region, &a.ID, &a.ClusterName, &a.Namespace, &a.ServiceAccount, &a.RoleARN, &a.TargetRoleARN, &a.ExternalID, &a.Policy)
		d.integer(&disable)
		d.text(&a.OwnerARN, &tags)
		d.integer(&created, &modified, &a.Revision)
		if !d.ok {
			return nil, false
		}
		a.DisableSessionTags = disable != 0
		a.CreatedAt, a.ModifiedAt = storecore.FromMicros(created), storecore.FromMicros(modified)
		var err error
		if tags == "{}" {
			a.Tags = map[string]string{}
		} else if a.Tags, err = storecore.DecodeTags([]byte(tags)); err != nil {
			return nil, false
		}
		items = append(items, a)
	}
	return items, d.ok && d.s == ""
}

// pageDecoder reads pageRecordFormat's fields off the front of s; ok turns
// false at the first field that is not there.
type pageDecoder struct {
	s  string
	ok bool
}

// text reads text fields: a length, ':', that many bytes.
func (d *pageDecoder) text(dst ...*string) {
	for _, p := range dst {
		n, ok := d.number(':')
		if !ok || n > len(d.s) {
			d.s, d.ok = "", false
			return
		}
		*p, d.s = d.s[:n], d.s[n:]
	}
}

// integer reads integer fields: decimal, then ','.
func (d *pageDecoder) integer(dst ...*int64) {
	for _, p := range dst {
		i := strings.IndexByte(d.s, ',')
		v, err := strconv.ParseInt(d.s[:max(i, 0)], 10, 64)
		if i < 0 || err != nil {
			d.s, d.ok = "", false
			return
		}
		*p, d.s = v, d.s[i+1:]
	}
}

// number reads a non-negative decimal ended by sep.
func (d *pageDecoder) number(sep byte) (int, bool) {
	i := strings.IndexByte(d.s, sep)
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(d.s[:i])
	if err != nil || n < 0 {
		return 0, false
	}
	d.s = d.s[i+1:]
	return n, true
}
