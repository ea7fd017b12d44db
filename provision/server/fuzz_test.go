package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/goleudy/goleudy/image/bundle"
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

// FuzzPublish feeds arbitrary uploads to the publish call: none may
// panic, only a bundle signed by the release key whose image matches its
// manifest is stored, and a refused upload leaves no file behind.
func FuzzPublish(f *testing.F) {
	key := newReleaseKey(f)
	good, _ := makeBundle(f, key.priv, "rpi", "v2", 5, 512)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(bytes.Clone(good), 0))
	f.Add([]byte(bundle.Magic + "\x00\x00\x00\x05{}{}{"))
	f.Add([]byte("GOLEUDY-BUNDLE-1\n"))
	l := releaseLab(f, key)
	h := l.s.OperatorHandler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/releases", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+l.s.Token())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusCreated:
			if !bytes.Equal(body, good) {
				t.Fatalf("stored an upload that is not the signed bundle: %q", body)
			}
		case http.StatusBadRequest, http.StatusConflict:
			var e api.Error
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("refusal without a reason: %s", rec.Body)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		for _, f := range releaseFiles(t, l) {
			if f != filepath.Join("rpi", "5.bundle") {
				t.Fatalf("left behind: %s", f)
			}
		}
	})
}
