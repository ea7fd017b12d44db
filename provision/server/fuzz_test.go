package server

import (
	"testing"

	"github.com/goleudy/goleudy/provision/api"
)

// FuzzEnrollRequest feeds arbitrary bodies and signatures to the parsing
// and checking an enrollment goes through before the store sees it: no
// input may panic, and only a request signed by its own identity key may
// pass.
func FuzzEnrollRequest(f *testing.F) {
	f.Add([]byte(`{"node_id":"alban","token":"t","identity_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","wireguard_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","facts":{"board":"rpi"},"time":"2026-11-21T00:00:00Z"}`), "")
	f.Add([]byte(`{"node_id":1}`), "AAAA")
	f.Add([]byte(`{} {}`), "")
	f.Add([]byte(`{"facts":{"macs":[1,2]}}`), "")
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		var req api.EnrollRequest
		if err := api.DecodeBytes(body, &req); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if err := checkEnrollRequest(req, body, sig); err == nil {
			t.Fatalf("an unsigned or badly signed request passed: %q sig %q", body, sig)
		}
	})
}
