package redis

import (
	"testing"
)

// FuzzDecode feeds arbitrary payloads to the bus's message decoder (anyone
// who can publish on the channel chooses them): it must never panic, and
// a message it accepts encodes to one that decodes the same.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"sid":"s-1","until":1700000000123}`,
		`{"user":42,"ver":7,"keep":"s-2"}`,
		`{"changed":9007199254740992}`,
		`{"sid":"s-1"}`,
		`{}`,
		`[]`,
		`{"user":-1,"changed":-5}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		r, err := decode(payload)
		if err != nil {
			return
		}
		enc, err := encode(r)
		if err != nil {
			t.Fatalf("decoded %q to %+v, which does not encode: %v", payload, r, err)
		}
		again, err := decode(string(enc))
		if err != nil || again.SessionID != r.SessionID || !again.Until.Equal(r.Until) || again.Version != r.Version || again.UserChanged != r.UserChanged {
			t.Fatalf("%q: %+v, then %s, then %+v (%v)", payload, r, enc, again, err)
		}
	})
}
