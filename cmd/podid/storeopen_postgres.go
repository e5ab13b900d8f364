package main

import (
	"context"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres"
)

// PostgreSQL: "--store postgres://user:password@host:port/db?sslmode=..."
// (or postgresql://), passed to pgx as is; several replicas may share it.
func init() {
	storeOpeners["postgres"] = openPostgres
	storeOpeners["postgresql"] = openPostgres
}

func openPostgres(ctx context.Context, dsn string) (store.Store, error) {
	return postgres.Open(ctx, dsn)
}
