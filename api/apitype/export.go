package apitype

// ExportStatesHeader comes with a GET /v1/export answer when the export
// has no prefix: about how many states it holds (live and tombstones of
// the namespaces exported), for a progress display.
const ExportStatesHeader = "Grapevine-Export-States"

// ExportContentType is the media type of an export stream (the format is
// described in the api package documentation).
const ExportContentType = "application/vnd.grapevine.export"

// ImportResult is the answer of POST /v1/import.
type ImportResult struct {
	States     int      `json:"states"`     // state records read
	Changed    int      `json:"changed"`    // states that changed the peer; the others it had already, or newer
	Refused    int      `json:"refused"`    // states refused as from any peer (signed namespace, clock, size)
	Namespaces []string `json:"namespaces"` // the namespaces the export holds
}
