package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"
)

// rawStmts runs the hottest point reads (DescribePodIdentityAssociation's
// GetAssociation) through the driver's own interfaces on a connection of
// the read pool, with a statement prepared once per connection: the same
// SQLite statement as through database/sql, without database/sql's per-query
// work (its statement-per-connection bookkeeping, argument conversion, the
// Rows wrapper and Scan's conversions), which cost about a quarter of the
// read.
type rawStmts struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[rawStmtKey]rawStmt
	closed bool
}

// rawStmtKey is a query prepared on one driver connection.
type rawStmtKey struct {
	conn  any // the driver's connection (a pointer)
	query string
}

// errRawClosed: the store closed while a read was starting.
var errRawClosed = errors.New("store closed")

// readRow runs query with args on a read connection and fills dest with its
// single row's columns; false when it returns no row. The values are the
// driver's (string, []byte, int64, float64 or nil) and stay valid after
// readRow returns.
func (c *rawStmts) readRow(ctx context.Context, query string, args []driver.NamedValue, dest []driver.Value) (bool, error) {
	ctx, err := pointRead(ctx)
	if err != nil {
		return false, err
	}
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	found := false
	err = conn.Raw(func(dc any) error {
		st, err := c.stmt(ctx, dc, query)
		if err != nil {
			return err
		}
		found, err = readRawRow(ctx, st, args, dest)
		return err
	})
	return found, err
}

// rawStmt is a statement of the driver's that queries and executes with a
// context.
type rawStmt interface {
	driver.Stmt
	driver.StmtQueryContext
	driver.StmtExecContext
}

// prepareRaw prepares query on dc, a driver connection.
func prepareRaw(ctx context.Context, dc any, query string) (rawStmt, error) {
	p, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("sqlite driver connection %T cannot prepare with a context", dc)
	}
	st, err := p.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	q, ok := st.(rawStmt)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("sqlite driver statement %T cannot query and execute with a context", st)
	}
	return q, nil
}

// readRawRow runs st with args and fills dest with its single row's
// values; false when it returns no row.
func readRawRow(ctx context.Context, st rawStmt, args []driver.NamedValue, dest []driver.Value) (bool, error) {
	rows, err := st.QueryContext(ctx, args)
	if err != nil {
		return false, err
	}
	found := false
	err = rows.Next(dest)
	if cerr := rows.Close(); err == nil || err == io.EOF {
		found = err == nil
		err = cerr
	}
	return found, err
}

// stmt returns query prepared on driver connection dc, preparing it the
// first time. The caller holds dc (sql.Conn.Raw), so the statement is used
// by one goroutine at a time.
func (c *rawStmts) stmt(ctx context.Context, dc any, query string) (rawStmt, error) {
	key := rawStmtKey{dc, query}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errRawClosed
	}
	if st, ok := c.stmts[key]; ok {
		return st, nil
	}
	st, err := prepareRaw(ctx, dc, query)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = map[rawStmtKey]rawStmt{}
	}
	c.stmts[key] = st
	return st, nil
}

// close finalizes the statements; it runs before the read pool closes
// (a statement outliving its connection cannot be finalized: one whose
// connection the pool discarded is left alone), and later reads fail.
func (c *rawStmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for k, st := range c.stmts {
		if v, ok := k.conn.(driver.Validator); !ok || v.IsValid() {
			st.Close()
		}
		delete(c.stmts, k)
	}
}

// rawDecoder reads a row's driver values in order into Go values; the
// first mismatch is its err.
type rawDecoder struct {
	v   []driver.Value
	i   int
	err error
}

// text reads TEXT columns.
func (d *rawDecoder) text(dst ...*string) {
	for _, p := range dst {
		switch v := d.next().(type) {
		case string:
			*p = v
		case []byte:
			*p = string(v)
		default:
			d.fail(v, "text")
		}
	}
}

// blob reads a BLOB column (TEXT too).
func (d *rawDecoder) blob(dst *[]byte) {
	switch v := d.next().(type) {
	case []byte:
		*dst = v
	case string:
		*dst = []byte(v)
	default:
		d.fail(v, "a blob")
	}
}

// integer reads INTEGER columns.
func (d *rawDecoder) integer(dst ...*int64) {
	for _, p := range dst {
		v := d.next()
		if i, ok := v.(int64); ok {
			*p = i
		} else {
			d.fail(v, "an integer")
		}
	}
}

func (d *rawDecoder) next() driver.Value {
	if d.i >= len(d.v) {
		d.i++
		return nil
	}
	d.i++
	return d.v[d.i-1]
}

func (d *rawDecoder) fail(v driver.Value, want string) {
	if d.err == nil {
		d.err = fmt.Errorf("column %d holds %T, want %s", d.i, v, want)
	}
}
