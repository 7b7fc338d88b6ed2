package auth_test

import (
	"testing"

	"github.com/latch-auth/latch/auth"
)

func TestUID(t *testing.T) {
	tests := []struct {
		uid string
		id  int64
		ok  bool
	}{
		{"MQ", 1, true},   // Django: urlsafe_base64_encode(b"1")
		{"MQ==", 1, true}, // Django's decoder takes padding too
		{"MTIz", 123, true},
		{"MA", 0, false},  // "0"
		{"LTE", 0, false}, // "-1"
		{"YQ", 0, false},  // "a"
		{"!!", 0, false},
		{"", 0, false},
		{"OTIyMzM3MjAzNjg1NDc3NTgwOA", 0, false}, // 9223372036854775808 overflows
	}
	for _, tt := range tests {
		id, ok := auth.DecodeUID(tt.uid)
		if id != tt.id || ok != tt.ok {
			t.Errorf("DecodeUID(%q) = %d, %v; want %d, %v", tt.uid, id, ok, tt.id, tt.ok)
		}
	}
	for _, id := range []int64{1, 42, 9223372036854775807} {
		if got, ok := auth.DecodeUID(auth.EncodeUID(id)); !ok || got != id {
			t.Errorf("DecodeUID(EncodeUID(%d)) = %d, %v", id, got, ok)
		}
	}
}

// FuzzDecodeUID: any uid from a link decodes to a positive id or is
// refused, without panicking, and what decodes encodes back.
func FuzzDecodeUID(f *testing.F) {
	for _, s := range []string{"MQ", "MQ==", "MTIz", "", "!!", "OTIyMzM3MjAzNjg1NDc3NTgwNw", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uid string) {
		id, ok := auth.DecodeUID(uid)
		if !ok {
			return
		}
		if id <= 0 {
			t.Fatalf("DecodeUID(%q) = %d", uid, id)
		}
		if again, ok := auth.DecodeUID(auth.EncodeUID(id)); !ok || again != id {
			t.Fatalf("round trip of %d: %d, %v", id, again, ok)
		}
	})
}
