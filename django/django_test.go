package django

import (
	"testing"
	"time"
)

// The mapping from Django's rows, without Django.
func TestImportDjangoMapping(t *testing.T) {
	for _, tc := range []struct {
		user                     djangoUser
		role                     string
		usable, verifiable       bool
		lastLogin, joined, input string
	}{
		{user: djangoUser{IsSuperuser: true, IsStaff: true, Password: "pbkdf2_sha256$600000$salt$hash"}, role: "admin", usable: true, verifiable: true},
		{user: djangoUser{IsSuperuser: true, Password: "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdHNhbHQ$aGFzaA"}, role: "admin", usable: true, verifiable: true},
		{user: djangoUser{IsStaff: true, Password: "bcrypt_sha256$$2b$12$abc"}, role: "admin", usable: true, verifiable: true},
		{user: djangoUser{Password: "!unusableXYZ"}, role: "user"},
		{user: djangoUser{Password: ""}, role: "user"},
		{user: djangoUser{Password: "md5$salt$0123456789abcdef0123456789abcdef"}, role: "user", usable: true},
		{user: djangoUser{Password: "0123456789abcdef0123456789abcdef"}, role: "user", usable: true},
		{user: djangoUser{Password: "scrypt$16384$salt$8$1$hash"}, role: "user", usable: true},
	} {
		u := tc.user
		if got := u.role("admin"); got != tc.role {
			t.Errorf("role of %+v = %q, want %q", u, got, tc.role)
		}
		if got := djangoUsable(u.Password); got != tc.usable {
			t.Errorf("djangoUsable(%q) = %v, want %v", u.Password, got, tc.usable)
		}
		if got := djangoUsable(u.Password) && djangoVerifiable(u.Password); got != tc.verifiable {
			t.Errorf("verifiable(%q) = %v, want %v", u.Password, got, tc.verifiable)
		}
	}

	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		in   any
		want time.Time
	}{
		{nil, time.Time{}},
		{"", time.Time{}},
		{"2021-02-03 04:05:06.123456", utc("2021-02-03T04:05:06.123456Z")},
		{"2021-02-03 04:05:06", utc("2021-02-03T04:05:06Z")},
		{[]byte("2021-02-03T04:05:06"), utc("2021-02-03T04:05:06Z")},
		{"2021-02-03 04:05:06.5+02:00", utc("2021-02-03T02:05:06.5Z")},
		{utc("2021-02-03T04:05:06Z").In(time.FixedZone("x", 3600)), utc("2021-02-03T04:05:06Z")},
	} {
		got, err := djangoTime(tc.in)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("djangoTime(%v) = %v, %v; want %v in UTC", tc.in, got, err, tc.want)
		}
	}
	if _, err := djangoTime("yesterday"); err == nil {
		t.Errorf("djangoTime(yesterday) succeeded")
	}
	if _, err := djangoTime(int64(5)); err == nil {
		t.Errorf("djangoTime(int64) succeeded")
	}
}
