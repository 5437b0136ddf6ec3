package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/node"
)

// fill sets every field reachable from v to a non-zero value: a slice and
// a map get one element.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint64:
		v.SetUint(9)
	case reflect.Float64:
		v.SetFloat(1.5)
	case reflect.String:
		v.SetString("s")
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k)
		fill(t, e)
		v.SetMapIndex(k, e)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fill(t, v.Field(i))
		}
	default:
		t.Fatalf("fill: no rule for %s", v.Type())
	}
}

// zeroFields lists the fields reachable from v that are zero.
func zeroFields(v reflect.Value, path string) []string {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			if v.IsZero() {
				return []string{path}
			}
			return nil
		}
		var out []string
		for i := range v.NumField() {
			out = append(out, zeroFields(v.Field(i), path+"."+v.Type().Field(i).Name)...)
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return []string{path}
		}
		return zeroFields(v.Elem(), path)
	case reflect.Slice:
		if v.Len() == 0 {
			return []string{path}
		}
		return zeroFields(v.Index(0), path+"[0]")
	case reflect.Map:
		if v.Len() == 0 {
			return []string{path}
		}
		it := v.MapRange()
		it.Next()
		return zeroFields(it.Value(), path+"[k]")
	}
	if v.IsZero() {
		return []string{path}
	}
	return nil
}

// TestStatusConversion: node.Status with every field set converts to an
// apitype.Status with every field set, and both encode to the same JSON, so
// the API's type cannot drift from the node's silently (a field added to
// one side only fails here).
func TestStatusConversion(t *testing.T) {
	var st node.Status
	fill(t, reflect.ValueOf(&st).Elem())
	out := toStatus(st)
	if z := zeroFields(reflect.ValueOf(out), "Status"); len(z) > 0 {
		t.Errorf("toStatus left fields zero: %v", z)
	}
	want, _ := json.Marshal(st)
	got, _ := json.Marshal(out)
	var w, g any
	_ = json.Unmarshal(want, &w)
	_ = json.Unmarshal(got, &g)
	if !reflect.DeepEqual(w, g) {
		t.Errorf("JSON differs:\nnode:    %s\napitype: %s", want, got)
	}
	var back apitype.Status
	if err := json.Unmarshal(got, &back); err != nil || !reflect.DeepEqual(back, out) {
		t.Errorf("apitype.Status does not survive JSON: %+v, %v", back, err)
	}
}

// TestStatusEndpoint: GET /v1/status decodes into apitype.Status with no
// unknown field, and reports the node.
func TestStatusEndpoint(t *testing.T) {
	srv, n := newTestServer(t)
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v1/kv/k", bytes.NewReader([]byte("v")))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("put: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	var st apitype.Status
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("decoding /v1/status into apitype.Status: %v", err)
	}
	ns := st.Namespaces[node.DefaultNamespace]
	if st.ID != n.Peer().ID().String() || st.Network != n.Status().Network || st.Network == "" || st.Addrs == nil || ns.Items != 1 {
		t.Fatalf("status = %+v", st)
	}
}

// TestKeyLimitAgrees: apitype, which may not import node, states the
// node's key limit; they must agree.
func TestKeyLimitAgrees(t *testing.T) {
	if apitype.MaxKeyLen != node.MaxKeyLen {
		t.Fatalf("apitype.MaxKeyLen = %d, node.MaxKeyLen = %d", apitype.MaxKeyLen, node.MaxKeyLen)
	}
}
