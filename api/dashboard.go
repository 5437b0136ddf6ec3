package api

import (
	"net/http"

	"github.com/grapevine-kv/grapevine/api/ui"
)

// dashboard serves the web dashboard's files (package ui) under /ui/.
var dashboard = ui.Handler()

// ui serves the web dashboard: public static files, whose page reads the
// data from the API with the user's token.
func (s *Server) ui(w http.ResponseWriter, r *http.Request) error {
	dashboard.ServeHTTP(w, r)
	return nil
}
