// Package ui is the web dashboard of a grapevine daemon: static files
// (HTML, CSS and JavaScript modules, no build step) embedded in the binary
// and served at /ui/ by package api. The page works offline: it loads
// nothing but its own files and reads everything it shows from the HTTP
// API of the daemon that served it (GET /v1/status, /v1/peers, /v1/kv,
// /v1/watch), sending the API token the user typed when the API asked for
// one (kept in the tab's sessionStorage).
package ui
