package fleet

import (
	"errors"
	"testing"
	"time"
)

func TestRedeem(t *testing.T) {
	s := newStore(t)
	if err := s.SetDefaults("op", fleetDefaults()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"alban", "bede"} {
		if err := s.AddNode("op", nodeDoc(id, "198.51.100.2")); err != nil {
			t.Fatal(err)
		}
	}
	expires := epoch.Add(time.Hour)
	alban, err := s.NewToken("op", "alban", expires)
	if err != nil {
		t.Fatal(err)
	}
	bede, err := s.NewToken("op", "bede", expires)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.NewToken("op", "nobody", expires); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token for unknown node: %v", err)
	}

	steps := []struct {
		name   string
		secret string
		node   string
		at     time.Time
		want   error
	}{
		{"unknown", "not-a-token", "alban", epoch, ErrTokenUnknown},
		{"other node", bede, "alban", epoch, ErrTokenOtherNode},
		{"expired", bede, "bede", expires, ErrTokenExpired},
		{"first use", alban, "alban", epoch, nil},
		{"replay", alban, "alban", epoch.Add(time.Minute), ErrTokenUsed},
		{"replay for another node", alban, "bede", epoch, ErrTokenOtherNode},
		{"still refused after expiry", alban, "alban", expires.Add(time.Hour), ErrTokenUsed},
	}
	for _, st := range steps {
		if err := s.Redeem(st.secret, st.node, st.at); !errors.Is(err, st.want) {
			t.Errorf("%s: got %v, want %v", st.name, err, st.want)
		}
	}

	toks, err := s.Tokens("")
	if err != nil || len(toks) != 2 {
		t.Fatalf("Tokens = %v, %v", toks, err)
	}
	for _, tok := range toks {
		if tok.Hash == alban || tok.Hash == bede {
			t.Fatal("secret stored in clear")
		}
		if used := tok.NodeID == "alban"; tok.Used != used {
			t.Errorf("token for %s used=%v", tok.NodeID, tok.Used)
		}
	}

	// Removing a node takes its tokens with it.
	if err := s.RemoveNode("op", "bede"); err != nil {
		t.Fatal(err)
	}
	if err := s.Redeem(bede, "bede", epoch); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("token of removed node: %v", err)
	}
}
