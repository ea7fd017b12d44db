package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/image/bundle"
	"github.com/goleudy/goleudy/provision/api"
)

// releaseKey is a release signing key; pub is its public key file.
type releaseKey struct {
	priv ed25519.PrivateKey
	pub  string
}

func newReleaseKey(t testing.TB) releaseKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(t.TempDir(), "release-*.pub")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pem.Encode(f, &pem.Block{Type: "PUBLIC KEY", Bytes: der}); err != nil {
		t.Fatal(err)
	}
	return releaseKey{priv, f.Name()}
}

// makeBundle signs a bundle of a random image of size bytes.
func makeBundle(t testing.TB, key ed25519.PrivateKey, board, version string, build uint64, size int) ([]byte, bundle.Manifest) {
	t.Helper()
	img := make([]byte, size)
	rand.Read(img)
	var buf bytes.Buffer
	m, err := bundle.Write(&buf, bundle.Manifest{Board: board, Version: version, Build: build,
		Created: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}, bytes.NewReader(img), int64(size), key)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}

// releaseLab is an API lab whose server trusts key for releases.
func releaseLab(t testing.TB, key releaseKey) *apiLab {
	return newLab(t, func(o *Options) { o.ReleaseTrust = []string{key.pub} })
}

func publish(t *testing.T, l *apiLab, data []byte) (api.Release, error) {
	t.Helper()
	return l.client.PublishRelease(context.Background(), bytes.NewReader(data), int64(len(data)))
}

// releaseFiles lists what is under the data dir's releases/.
func releaseFiles(t testing.TB, l *apiLab) []string {
	t.Helper()
	var out []string
	root := filepath.Join(l.s.o.DataDir, ReleasesDir)
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestPublishWithoutReleaseKeys(t *testing.T) {
	l := newLab(t)
	data, _ := makeBundle(t, newReleaseKey(t).priv, "rpi", "v2", 5, 4096)
	_, err := publish(t, l, data)
	if !isStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "no release keys configured") {
		t.Fatalf("publish without release keys: %v", err)
	}
	if k := l.s.Keys(); len(k.ReleaseTrust) != 0 {
		t.Fatalf("keys %+v", k)
	}
}

func TestPublishRelease(t *testing.T) {
	key := newReleaseKey(t)
	l := releaseLab(t, key)
	ctx := context.Background()

	// Seeds and the keys call carry the release key.
	nn := addNode(t, l, nodeDoc)
	pub := base64.StdEncoding.EncodeToString(key.priv.Public().(ed25519.PublicKey))
	if len(nn.Seed.ReleaseTrust) != 1 || nn.Seed.ReleaseTrust[0] != pub {
		t.Fatalf("seed release trust %v, want [%s]", nn.Seed.ReleaseTrust, pub)
	}
	if k, err := l.client.Keys(ctx); err != nil || len(k.ReleaseTrust) != 1 || k.ReleaseTrust[0].Key != pub {
		t.Fatalf("keys %+v %v", k, err)
	}
	if nn, err := l.client.NewToken(ctx, "alban"); err != nil || len(nn.Seed.ReleaseTrust) != 1 {
		t.Fatalf("node token seed %+v %v", nn.Seed, err)
	}

	good, m := makeBundle(t, key.priv, "rpi", "v2", 5, 8192)
	before := l.serial(t)
	rel, err := publish(t, l, good)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Board != "rpi" || rel.Version != "v2" || rel.Build != 5 || rel.SHA256 != m.SHA256 || rel.Size != 8192 ||
		rel.BundleSize != int64(len(good)) || rel.Published.IsZero() || !rel.Created.Equal(m.Created) {
		t.Fatalf("published %+v", rel)
	}
	stored, err := os.ReadFile(filepath.Join(l.s.o.DataDir, "releases", "rpi", "5.bundle"))
	if err != nil || !bytes.Equal(stored, good) {
		t.Fatalf("stored bundle differs from the upload (%v)", err)
	}
	if l.serial(t) != before+1 {
		t.Fatal("publishing did not bump the serial once")
	}
	list, err := l.client.Releases(ctx)
	if err != nil || len(list) != 1 || list[0] != rel {
		t.Fatalf("releases %+v %v", list, err)
	}

	stranger := newReleaseKey(t)
	strange, _ := makeBundle(t, stranger.priv, "rpi", "v3", 6, 4096)
	corrupt, _ := makeBundle(t, key.priv, "rpi", "v3", 6, 4096)
	corrupt[len(corrupt)-100] ^= 0xff
	toaster, _ := makeBundle(t, key.priv, "toaster", "v3", 6, 4096)
	older, _ := makeBundle(t, key.priv, "rpi", "v1", 4, 4096)
	sameVersion, _ := makeBundle(t, key.priv, "rpi", "v2", 6, 4096)
	next, _ := makeBundle(t, key.priv, "rpi", "v3", 6, 4096)
	// The manifest is signed over the payload: change one byte of it.
	tampered := bytes.Clone(next)
	h, _ := bundle.ReadHeader(bytes.NewReader(tampered))
	i := bytes.Index(tampered[:h.Offset], []byte(`"payload": "`)) + len(`"payload": "`) + 3
	tampered[i] ^= 1
	for _, tt := range []struct {
		name   string
		data   []byte
		status int
		says   string
	}{
		{"duplicate build", good, http.StatusConflict, "rpi build 5 is published already"},
		{"unknown key", strange, http.StatusBadRequest, "untrusted key"},
		{"altered manifest", tampered, http.StatusBadRequest, "manifest: envelope: bad signature"},
		{"corrupted image", corrupt, http.StatusBadRequest, "image does not match the manifest: sha256"},
		{"cut short", next[:len(next)-10], http.StatusBadRequest, "image does not match the manifest: 4086 bytes, want 4096"},
		{"trailing data", append(bytes.Clone(next), "extra"...), http.StatusBadRequest, "data after the image's 4096 bytes"},
		{"unknown board", toaster, http.StatusBadRequest, `unknown board "toaster"`},
		{"lower build", older, http.StatusConflict, "rpi build 4 is below build 5"},
		{"same version", sameVersion, http.StatusConflict, "rpi version v2 is published already, as build 5"},
		{"not a bundle", []byte("hello, this is not a bundle at all"), http.StatusBadRequest, "not a goleudy bundle: bad magic"},
		{"empty", nil, http.StatusBadRequest, "not a goleudy bundle"},
	} {
		_, err := publish(t, l, tt.data)
		if !isStatus(err, tt.status) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: %v, want %d saying %q", tt.name, err, tt.status, tt.says)
		}
	}
	if got := releaseFiles(t, l); len(got) != 1 || got[0] != filepath.Join("rpi", "5.bundle") {
		t.Fatalf("refused uploads left files: %v", got)
	}
	if l.serial(t) != before+1 {
		t.Fatal("refused uploads changed the store")
	}
	if _, err := publish(t, l, next); err != nil {
		t.Fatalf("the next build: %v", err)
	}
	raw, _ := l.client.Audit(ctx, 0, 0)
	if !strings.Contains(string(raw), `"action": "release add"`) || !strings.Contains(string(raw), `"subject": "rpi/00000000000000000006"`) {
		t.Fatalf("audit lacks the releases:\n%s", raw)
	}
}

// A large upload refused on its header still gets its reason back, not a
// reset connection.
func TestPublishRefusalOfALargeBundleIsHeard(t *testing.T) {
	key := newReleaseKey(t)
	l := releaseLab(t, key)
	data, _ := makeBundle(t, newReleaseKey(t).priv, "rpi", "v2", 5, 32<<20)
	_, err := publish(t, l, data)
	if !isStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "untrusted key") {
		t.Fatalf("a stranger's 32 MiB bundle: %v", err)
	}
}

// enrollNode adds and enrolls a node whose tunnel address is 127.0.0.N,
// and returns a client calling from it.
func enrollNode(t *testing.T, l *apiLab, doc string, wg byte) *http.Client {
	t.Helper()
	nn := addNode(t, l, doc)
	var d struct {
		Node struct {
			ID string `json:"id"`
		} `json:"node"`
	}
	json.Unmarshal(nn.Node.Config, &d)
	body, sig := enrollRequest(t, d.Node.ID, nn.Token, newIdentity(t), wgKey(wg))
	code, data := postEnroll(t, l, body, sig)
	if code != 200 {
		t.Fatalf("enroll %s: %d %s", d.Node.ID, code, data)
	}
	p, err := l.s.store.Peer(d.Node.ID)
	if err != nil {
		t.Fatal(err)
	}
	return nodeClient(strings.TrimSuffix(p.Address, "/32"))
}

func get(t *testing.T, c *http.Client, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

func TestBundleDownload(t *testing.T) {
	key := newReleaseKey(t)
	l := releaseLab(t, key)
	alban := enrollNode(t, l, nodeDoc, 1) // board rpi
	rpi, m := makeBundle(t, key.priv, "rpi", "v2", 5, 64<<10)
	brix, _ := makeBundle(t, key.priv, "brix", "v2", 3, 4096)
	for _, b := range [][]byte{rpi, brix} {
		if _, err := publish(t, l, b); err != nil {
			t.Fatal(err)
		}
	}
	url := l.node.URL + "/v1/bundles/rpi/5"
	etag := `"` + m.SHA256 + `"`

	resp, data := get(t, alban, url, nil)
	if resp.StatusCode != 200 || !bytes.Equal(data, rpi) || resp.ContentLength != int64(len(rpi)) ||
		resp.Header.Get("ETag") != etag || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("full download: %d, %d bytes, Content-Length %d, ETag %q, headers %v",
			resp.StatusCode, len(data), resp.ContentLength, resp.Header.Get("ETag"), resp.Header)
	}
	// A download broken off in the middle resumes there.
	half := len(rpi)/2 + 17
	resp, data = get(t, alban, url, map[string]string{"Range": "bytes=" + itoa(half) + "-", "If-Range": etag})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(data, rpi[half:]) ||
		resp.Header.Get("Content-Range") != "bytes "+itoa(half)+"-"+itoa(len(rpi)-1)+"/"+itoa(len(rpi)) {
		t.Fatalf("resume: %d, %d bytes, Content-Range %q", resp.StatusCode, len(data), resp.Header.Get("Content-Range"))
	}
	if got := append(bytes.Clone(rpi[:half]), data...); !bytes.Equal(got, rpi) {
		t.Fatal("the resumed download does not add up to the bundle")
	}
	// A resume against another bundle (its ETag changed) gets the whole.
	resp, data = get(t, alban, url, map[string]string{"Range": "bytes=100-", "If-Range": `"other"`})
	if resp.StatusCode != 200 || len(data) != len(rpi) {
		t.Fatalf("If-Range mismatch: %d, %d bytes", resp.StatusCode, len(data))
	}
	for _, tt := range []struct {
		name   string
		client *http.Client
		path   string
		status int
		says   string
	}{
		{"another board's", alban, "/v1/bundles/brix/3", http.StatusForbidden, `node alban is a "rpi"; it may not fetch bundles for board "brix"`},
		{"unknown build", alban, "/v1/bundles/rpi/9", http.StatusNotFound, "no release build 9 for board rpi"},
		{"not a build", alban, "/v1/bundles/rpi/latest", http.StatusNotFound, `"latest" is not a build number`},
		{"a stranger", nodeClient("127.0.0.9"), "/v1/bundles/rpi/5", http.StatusForbidden, "no enrolled node's tunnel address"},
	} {
		resp, data := get(t, tt.client, l.node.URL+tt.path, nil)
		var e api.Error
		json.Unmarshal(data, &e)
		if resp.StatusCode != tt.status || !strings.Contains(e.Error, tt.says) {
			t.Errorf("%s: %d %s", tt.name, resp.StatusCode, data)
		}
	}
	// The operator API does not serve bundles.
	if resp, _ := get(t, http.DefaultClient, l.op.URL+"/v1/bundles/rpi/5", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bundle on the operator API: %d", resp.StatusCode)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
