package api

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var (
	// "//	GET    /v1/kv   ..." in doc.go
	docEndpoint = regexp.MustCompile(`^//\t(GET|HEAD|PUT|POST|DELETE|PATCH)\s+(/[^\s?]*)`)
	// "//	400 invalid_key   ..." in doc.go
	docError = regexp.MustCompile(`^//\t(\d{3}) ([a-z_]+)\s`)
	// "| `GET /v1/kv?prefix=...` | ..." in the README
	readmeEndpoint = regexp.MustCompile("^\\| `(GET|HEAD|PUT|POST|DELETE|PATCH) (/[^`?]*)")
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func wantEndpoints() []string {
	var want []string
	for _, e := range endpoints(routes) {
		want = append(want, e.String())
	}
	return sorted(want)
}

// TestDocListsEndpoints: doc.go and the README's HTTP API table list
// exactly the endpoints of the route table, and the 404 answer names every
// path.
func TestDocListsEndpoints(t *testing.T) {
	for file, re := range map[string]*regexp.Regexp{"doc.go": docEndpoint, "../README.md": readmeEndpoint} {
		var got []string
		for _, l := range readLines(t, file) {
			if m := re.FindStringSubmatch(l); m != nil {
				got = append(got, m[1]+" "+m[2])
			}
		}
		if got, want := sorted(got), wantEndpoints(); !slices.Equal(got, want) {
			t.Errorf("%s lists\n  %q\nthe routes are\n  %q", file, got, want)
		}
	}
	srv, _ := newTestServer(t)
	resp, err := http.Get(srv.URL + "/v2/nothing")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, e := range endpoints(routes) {
		if !strings.Contains(string(b), e.path) {
			t.Errorf("the 404 answer %s does not name %s", b, e.path)
		}
	}
}

// TestDocListsErrors: doc.go's error table is exactly what the server
// answers: errorTable plus the server's own refusals; the README names
// every code.
func TestDocListsErrors(t *testing.T) {
	var got []string
	for _, l := range readLines(t, "doc.go") {
		if m := docError.FindStringSubmatch(l); m != nil {
			got = append(got, m[1]+" "+m[2])
		}
	}
	want := []string{"400 invalid_argument", "401 unauthorized", "403 forbidden", "404 not_found", "405 method_not_allowed", "500 internal"} // the server's own
	for _, m := range errorTable {
		if s := strconv.Itoa(m.status) + " " + m.code; !slices.Contains(want, s) {
			want = append(want, s)
		}
	}
	if got, want := sorted(got), sorted(want); !slices.Equal(got, want) {
		t.Errorf("doc.go lists errors\n  %q\nthe server answers\n  %q", got, want)
	}
	readme := strings.Join(readLines(t, "../README.md"), "\n")
	for _, s := range got {
		if code := strings.Fields(s)[1]; !strings.Contains(readme, "`"+code+"`") {
			t.Errorf("the README does not name the error code %s", code)
		}
	}
}

// TestTestHooksDoc: the TestHooks comment in testhooks.go lists exactly the
// hooks' endpoints.
func TestTestHooksDoc(t *testing.T) {
	var got, want []string
	for _, l := range readLines(t, "testhooks.go") {
		if m := docEndpoint.FindStringSubmatch(l); m != nil {
			got = append(got, m[1]+" "+m[2])
		}
	}
	for _, e := range endpoints(NewTestHooks().routes(nil)) {
		want = append(want, e.String())
	}
	if got, want := sorted(got), sorted(want); !slices.Equal(got, want) {
		t.Errorf("testhooks.go documents\n  %q\nthe hooks are\n  %q", got, want)
	}
}
