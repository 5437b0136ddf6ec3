package wire

import "testing"

func TestHelloPlans(t *testing.T) {
	b := AppendHelloStatesLimit(AppendHello(nil, []string{"a"}), MaxFrameSize)
	if ok, err := HelloPlans(b); err != nil || ok {
		t.Fatalf("HelloPlans(without field 4) = %v, %v; want false, nil", ok, err)
	}
	b = AppendHelloPlans(b)
	if ok, err := HelloPlans(b); err != nil || !ok {
		t.Fatalf("HelloPlans = %v, %v; want true, nil", ok, err)
	}
	if ns, err := UnmarshalHello(b); err != nil || len(ns) != 1 || ns[0] != "a" {
		t.Fatalf("UnmarshalHello = %v, %v", ns, err)
	}
	if _, err := HelloPlans([]byte{0x20}); err == nil {
		t.Fatal("truncated field 4 accepted")
	}
}

func TestPlan(t *testing.T) {
	for _, p := range []Plan{{}, {Decline: true}, {Sending: true}, {Decline: true, Sending: true}} {
		got, err := UnmarshalPlan(AppendPlan(nil, p))
		if err != nil || got != p {
			t.Fatalf("round trip of %+v = %+v, %v", p, got, err)
		}
	}
	if _, err := UnmarshalPlan([]byte{0x08}); err == nil {
		t.Fatal("truncated plan accepted")
	}
}
