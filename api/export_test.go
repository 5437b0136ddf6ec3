package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
)

// TestExportTokens: export and backup need read on every namespace they
// cover, import write on every namespace its export names; a refused
// import changes nothing.
func TestExportTokens(t *testing.T) {
	srv, _, _ := newTokenServer(t)
	ctx := context.Background()
	newClient := func(ns, tok string) *client.Client {
		c, err := client.New([]string{srv.URL}, ns, client.WithToken(tok))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	all, tenant := newClient("", tokWriteAll), newClient("", tokWriteTen)
	if _, err := all.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := newClient("tenant-a", tokWriteAll).Put(ctx, "t", []byte("v")); err != nil {
		t.Fatal(err)
	}
	read := func(c *client.Client, opts client.ExportOptions) ([]byte, error) {
		ex, err := c.Export(ctx, opts)
		if err != nil {
			return nil, err
		}
		defer ex.Close()
		return io.ReadAll(ex)
	}

	if _, err := read(tenant, client.ExportOptions{}); !errors.Is(err, apitype.ErrForbidden) {
		t.Fatalf("export of every namespace with a tenant-* token: %v, want forbidden", err)
	}
	tenantExport, err := read(tenant, client.ExportOptions{Namespaces: []string{"tenant-a"}})
	if err != nil {
		t.Fatalf("export of tenant-a with a tenant-* token: %v", err)
	}
	if _, _, err := tenant.Backup(ctx); !errors.Is(err, apitype.ErrForbidden) {
		t.Fatalf("backup with a tenant-* token: %v, want forbidden", err)
	}
	full, err := read(newClient("", tokReadAll), client.ExportOptions{})
	if err != nil {
		t.Fatalf("export with a read token: %v", err)
	}
	if _, err := newClient("", tokReadAll).Import(ctx, bytes.NewReader(full)); !errors.Is(err, apitype.ErrForbidden) {
		t.Fatalf("import with a read token: %v, want forbidden", err)
	}
	// Into an empty peer: a refused import leaves it empty.
	empty, _, _ := newTokenServer(t)
	into := func(tok string) *client.Client {
		c, err := client.New([]string{empty.URL}, "", client.WithToken(tok))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := into(tokWriteTen).Import(ctx, bytes.NewReader(full)); !errors.Is(err, apitype.ErrForbidden) {
		t.Fatalf("import of default with a tenant-* token: %v, want forbidden", err)
	}
	if _, err := into(tokWriteAll).Get(ctx, "k"); !errors.Is(err, apitype.ErrNotFound) {
		t.Fatalf("the refused import changed the peer: %v", err)
	}
	if res, err := into(tokWriteAll).Import(ctx, bytes.NewReader(full)); err != nil || res.Changed != 2 {
		t.Fatalf("import with a write token: %+v, %v", res, err)
	}
	res, err := tenant.Import(ctx, bytes.NewReader(tenantExport))
	if err != nil || res.States != 1 || res.Changed != 0 {
		t.Fatalf("import of tenant-a with a tenant-* token: %+v, %v", res, err)
	}
}
