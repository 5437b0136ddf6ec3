package ui

import (
	"embed"
	"io/fs"
	"net/http"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/ui/"

//go:embed static
var embedded embed.FS

// Files returns the dashboard's files, rooted at index.html.
func Files() fs.FS {
	sub, err := fs.Sub(embedded, "static")
	if err != nil {
		panic(err) // "static" is a valid path: cannot happen
	}
	return sub
}

// contentPolicy lets the page load only its own files and talk only to
// its own origin, so no value shown from the store can pull anything in.
const contentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the dashboard's files for requests under Prefix. It
// needs no token: the files hold no data.
func Handler() http.Handler {
	files := http.StripPrefix(Prefix, http.FileServerFS(Files()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache") // revalidate: a new binary serves new files
		files.ServeHTTP(w, r)
	})
}
